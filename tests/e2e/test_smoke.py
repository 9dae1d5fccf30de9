def test_create_and_read_contact(org_api):
    created = org_api.post("/api/v1/crm/contacts", json={"email": "a@example.com", "firstName": "A"})
    assert created.status_code == 201, created.text
    contact_id = created.json()["contactId"]
    got = org_api.get(f"/api/v1/crm/contacts/{contact_id}")
    assert got.status_code == 200
    assert got.json()["email"] == "a@example.com"
