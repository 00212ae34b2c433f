from immich_trio.cli import main

raise SystemExit(main())
