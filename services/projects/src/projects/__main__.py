from projects.server import main

main()
