from invoicing.server import main

main()
