from auth.domain.api_keys import generate_api_key
from portal_common.auth import API_KEY_PATTERN, hash_api_key


def test_keys_are_random_recognisable_and_stored_only_as_hashes():
    keys = [generate_api_key() for _ in range(50)]
    assert len({k.secret for k in keys}) == 50
    for key in keys:
        assert API_KEY_PATTERN.fullmatch(key.secret)
        assert key.secret.startswith(key.prefix) and len(key.prefix) == 11
        assert key.key_hash == hash_api_key(key.secret) and key.secret not in key.key_hash
        assert len(key.secret) - len("pk_") >= 43  # 43 url-safe characters carry 256 bits
