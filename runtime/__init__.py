"""The composition root: the one place that builds warden from its parts (`build.py`), used
alike by ``warden run`` (`run.py`), ``warden demo`` (`demo/`) and the test harness."""
