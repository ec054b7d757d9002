"""What a run is, torch-free: option declarations (``options``), method configs (``configs``), the
frozen run spec and its protocol (``runspec``), the run.json result, its one writer and reader
(``result``), and run.json's file handling (``run_json``). Everything here can be imported by ``--help``, reports and checks without torch."""
