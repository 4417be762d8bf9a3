from flowjobs.cli import main

main()
