from events.server import main

main()
