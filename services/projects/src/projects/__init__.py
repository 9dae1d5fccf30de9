"""Projects service: the projects of each tenant organization, their codes and their workflow."""
