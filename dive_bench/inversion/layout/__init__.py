"""DIVE's layout search in one place: the coarse seed it starts from (``seed``), the one-slot
repairs it scores at each monitor pass (``repairs``) and the scores of the boxes it returns
(``scoring``). The gradient search itself is ``inversion.dive``, shared with classification."""
