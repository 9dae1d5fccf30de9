import pytest

from auth.domain.accounts import Organization, PostalAddress, ProfileChanges
from auth.domain.credentials import API_KEY_PREFIX, SESSION_PREFIX, generate_credential
from auth.domain.portal_users import OAuthLogin, PortalUser, PortalUserChanges, clean_login, login_owner
from portal_common.auth import CREDENTIAL_PATTERN, hash_credential
from portal_common.domain_errors import Conflict, InvalidArgument, PermissionDenied


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
    assert clean_login(OAuthLogin(" Jo@Example.com ", " Jo ", "google", " 123 ")) == OAuthLogin(
        "Jo@Example.com", "Jo", "google", "123"
    )
    for login, field in [
        (OAuthLogin("nope", "", "google", "1"), "email"),
        (OAuthLogin("a@b.co", "", "github", "1"), "oauth_provider"),
        (OAuthLogin("a@b.co", "", "microsoft", "  "), "oauth_id"),
    ]:
        with pytest.raises(InvalidArgument) as raised:
            clean_login(login)
        assert raised.value.field == field


def _user(**fields) -> PortalUser:
    return PortalUser(
        **{
            "id": "pu_1",
            "organization_id": "org_1",
            "email": "jo@example.com",
            "display_name": "Jo",
            "oauth_provider": "google",
            "oauth_id": "g-1",
        }
        | fields
    )


def test_an_identity_conflict_names_the_oauth_id_and_says_why():
    login = OAuthLogin("jo@example.com", "", "microsoft", "m-1")
    with pytest.raises(Conflict) as refused:
        login_owner(login, by_identity=None, by_email=_user())
    assert refused.value.field == "oauth_id" and "already bound to another sign-in identity" in refused.value.message
    with pytest.raises(Conflict) as refused:  # a known identity taking another user's email
        login_owner(login, by_identity=_user(id="pu_2"), by_email=_user())
    assert refused.value.field == "email"
    assert login_owner(login, by_identity=_user(), by_email=_user()).id == "pu_1"
    assert login_owner(login, by_identity=None, by_email=None) is None


def test_only_active_users_may_sign_in():
    user = _user()
    user.sign_in(OAuthLogin("jo@example.com", "", "google", "g-1"), now=5)
    assert (user.display_name, user.last_login, user.updated_at) == ("Jo", 5, 5)
    user.status = "disabled"
    with pytest.raises(PermissionDenied):
        user.sign_in(OAuthLogin("jo@example.com", "", "google", "g-1"), now=6)


def test_changes_name_a_valid_status_and_apply_only_what_differs():
    with pytest.raises(InvalidArgument) as raised:
        PortalUserChanges("banned")
    assert raised.value.field == "status"
    user = _user(updated_at=1)
    assert not user.apply(PortalUserChanges("active"), now=2) and user.updated_at == 1
    assert user.apply(PortalUserChanges("disabled"), now=3) and (user.status, user.updated_at) == ("disabled", 3)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": None}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"email": "not an email"}, "email"),
        ({"website": "w" * 201}, "website"),
        ({"legal_name": "l" * 201}, "legal_name"),
        ({"address.postal_code": "9" * 201}, "address.postal_code"),
    ],
)
def test_profile_values_are_checked_and_each_error_names_its_field(changes, field):
    organization = Organization("org_1", "Acme", created_at=1, updated_at=1, legal_name="Kept")
    with pytest.raises(InvalidArgument) as raised:
        organization.apply(ProfileChanges(changes), now=5)
    assert raised.value.field == field
    assert (organization.name, organization.legal_name, organization.updated_at) == ("Acme", "Kept", 1)


def test_profile_text_is_trimmed_and_blank_clears():
    organization = Organization("org_1", "Acme", created_at=1, updated_at=9, phone="+49 1", email="a@b.co")
    organization.apply(
        ProfileChanges({"phone": "   ", "email": " ", "website": " https://acme.example ", "address.city": " Köln "}),
        now=5,
    )
    assert (organization.phone, organization.email, organization.website) == (None, None, "https://acme.example")
    assert organization.address == PostalAddress(city="Köln")
    assert organization.updated_at == 10  # never backwards, always moved by a change
