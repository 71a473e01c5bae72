from searchlab.cli import main

main()
