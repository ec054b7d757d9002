"""What a run is, torch-free: option declarations (``options``), method configs (``configs``), the
frozen run spec, its protocol and the run.json result (``runspec``), and run.json's file handling
(``run_json``). Everything here can be imported by ``--help``, reports and checks without torch."""
