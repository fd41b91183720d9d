"""Running a model: the run's configuration and how it is resolved (``config``, ``configure``), the
runner that trains, samples and scores it (``runner``, ``pipeline``, ``training``, ``sampling``),
its data (``data``, ``safe_pickle``), its checkpoints, curves and interrupts, the run folder and
its record (``records``: the one module that reads and writes them), and grids of runs (``sweep``)."""
