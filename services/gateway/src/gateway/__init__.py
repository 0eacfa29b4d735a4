"""The parents' front door: authentication, authorisation from an access read model, the diary."""
