import pytest

from auth.domain.credentials import API_KEY_PREFIX, SESSION_PREFIX, generate_credential
from auth.domain.portal_users import check_identity, clean_sign_in
from portal_common.auth import CREDENTIAL_PATTERN, hash_credential
from portal_common.errors import Conflict, InvalidArgument


@pytest.mark.parametrize("kind", [API_KEY_PREFIX, SESSION_PREFIX])
def test_credentials_are_random_recognisable_and_stored_only_as_hashes(kind):
    credentials = [generate_credential(kind) for _ in range(50)]
    assert len({c.secret for c in credentials}) == 50
    for credential in credentials:
        assert CREDENTIAL_PATTERN.fullmatch(credential.secret) and credential.secret.startswith(kind)
        assert credential.secret.startswith(credential.prefix) and len(credential.prefix) == 11
        assert credential.hash == hash_credential(credential.secret) and credential.secret not in credential.hash
        assert len(credential.secret) - len(kind) >= 43  # 43 url-safe characters carry 256 bits


def test_sign_in_details_are_cleaned_and_each_error_names_its_field():
    assert clean_sign_in(" Jo@Example.com ", " Jo ", "google", " 123 ") == ("Jo@Example.com", "Jo", "google", "123")
    for args, field in [(("nope", "", "google", "1"), "email"), (("a@b.co", "", "github", "1"), "oauthProvider"),
                        (("a@b.co", "", "microsoft", "  "), "oauthId")]:
        with pytest.raises(InvalidArgument) as raised:
            clean_sign_in(*args)
        assert raised.value.field == field


def test_an_email_bound_to_a_provider_account_refuses_another():
    check_identity(None, "google", "1")
    check_identity("1", "google", "1")
    with pytest.raises(Conflict):
        check_identity("1", "google", "2")
