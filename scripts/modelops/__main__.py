from modelops.cli import main

raise SystemExit(main())
