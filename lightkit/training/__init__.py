"""What lightkit adds to a Lightning ``Trainer``: run set-up, the run record, exact resume,
atomic checkpoints, SIGTERM handling and plain progress lines.

* :mod:`lightkit.training.run_setup`: the loggers, checkpoints and callbacks of a run directory.
* :mod:`lightkit.training.recorder`: ``RunRecorder`` (records, config in checkpoints, NaN stop).
* :mod:`lightkit.training.resume`: ``RngState`` and ``RunCSVLogger`` (exact resume).
* :mod:`lightkit.training.checkpoint_io`: ``AtomicCheckpointIO``.
* :mod:`lightkit.training.termination`: ``SaveOnTerminate`` (SIGTERM and Ctrl-C).
* :mod:`lightkit.training.progress`: ``PlainProgress`` and ``RunProgressBar``.
"""
