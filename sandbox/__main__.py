import gc

gc.disable()  # imports build ~40 000 objects that live as long as the process: collecting them is wasted start-up time
try:
    from sandbox.cli import main
finally:
    gc.enable()

raise SystemExit(main())
