from invoicing.server import main

# Guarded: the PDF renderer's worker processes (spawned) import this module again.
if __name__ == "__main__":
    main()
