from auth.server import main

main()
