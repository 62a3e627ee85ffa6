import sys

try:
    from .cli import main
except ValueError as e:   # a limit in the environment (RNNVIZ_MAX_*) that is not a number: read at import
    print(f"rnnviz: error: {e}", file=sys.stderr)
    raise SystemExit(1) from None

raise SystemExit(main())
