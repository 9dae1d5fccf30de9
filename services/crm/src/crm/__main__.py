from crm.server import main

main()
