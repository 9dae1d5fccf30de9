import pytest

from auth.domain.credentials import API_KEY_PREFIX, SESSION_PREFIX, generate_credential
from auth.domain.portal_users import PortalUser, check_may_sign_in, clean_sign_in, identity_conflict
from portal_common.auth import CREDENTIAL_PATTERN, hash_credential
from portal_common.domain_errors import InvalidArgument, PermissionDenied


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


def test_an_identity_conflict_names_the_oauth_id_and_says_why():
    error = identity_conflict("jo@example.com")
    assert error.field == "oauthId" and "already bound to another sign-in identity" in error.message


def test_only_active_users_may_sign_in():
    user = PortalUser(id="pu_1", organization_id="org_1", email="jo@example.com", display_name="Jo",
                      oauth_provider="google", oauth_id="g-1")
    check_may_sign_in(user)
    user.status = "disabled"
    with pytest.raises(PermissionDenied):
        check_may_sign_in(user)
