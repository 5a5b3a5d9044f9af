import json
import stat
import threading

import pytest

from kb.access.users import SCRYPT_N, UserStore


@pytest.fixture
def store(tmp_path):
    # these tests are about storage and roles; the password rule has its own test below
    return UserStore(tmp_path / "home" / "users.json", min_password_length=1)


def test_add_verify_and_role(store):
    store.add("张三", "s3cret!", "admin")
    store.add("li.si", "pw", "inspector")
    assert store.verify("张三", "s3cret!")
    assert not store.verify("张三", "wrong")
    assert not store.verify("张三", "")
    assert not store.verify("nobody", "s3cret!")
    assert store.role("张三") == "admin"
    assert store.role("li.si") == "inspector"
    assert store.role("nobody") is None
    assert store.has_users()


def test_empty_store(store):
    assert not store.has_users()
    assert store.list() == []
    assert not store.path.exists()


def test_list_never_exposes_hash(store):
    store.add("alice", "pw1", "admin")
    listing = store.list()
    assert [u["name"] for u in listing] == ["alice"]
    assert set(listing[0]) == {"name", "role", "created_at", "groups"}
    assert "pw1" not in json.dumps(listing)


def test_file_is_private_and_holds_scrypt_params_not_password(store):
    store.add("alice", "correct horse", "admin")
    mode = stat.S_IMODE(store.path.stat().st_mode)
    assert mode == 0o600
    text = store.path.read_text(encoding="utf-8")
    assert "correct horse" not in text
    record = json.loads(text)["users"]["alice"]["password"]
    assert record["algorithm"] == "scrypt"
    assert (record["n"], record["r"], record["p"]) == (SCRYPT_N, 8, 1)
    assert len(bytes.fromhex(record["salt"])) == 16


def test_same_password_gets_different_salts(store):
    store.add("a", "same", "inspector")
    store.add("b", "same", "inspector")
    users = json.loads(store.path.read_text(encoding="utf-8"))["users"]
    assert users["a"]["password"]["salt"] != users["b"]["password"]["salt"]
    assert users["a"]["password"]["hash"] != users["b"]["password"]["hash"]


def test_persisted_across_instances(store):
    store.add("alice", "pw", "admin")
    again = UserStore(store.path)
    assert again.verify("alice", "pw")
    assert again.role("alice") == "admin"


@pytest.mark.parametrize(
    "name, password, role",
    [
        ("", "pw", "admin"),
        ("has space", "pw", "admin"),
        ("../etc", "pw", "admin"),
        ("x" * 65, "pw", "admin"),
        ("ok", "", "admin"),
        ("ok", "pw", "root"),
    ],
)
def test_add_rejects_bad_input(store, name, password, role):
    with pytest.raises(ValueError):
        store.add(name, password, role)
    assert not store.has_users()


def test_duplicate_name_rejected(store):
    store.add("alice", "pw", "admin")
    with pytest.raises(ValueError, match="already exists"):
        store.add("alice", "other", "inspector")
    assert store.verify("alice", "pw")


def test_remove(store):
    store.add("alice", "pw", "admin")
    store.add("bob", "pw", "inspector")
    store.remove("alice")
    assert [u["name"] for u in store.list()] == ["bob"]
    assert not store.verify("alice", "pw")
    with pytest.raises(ValueError, match="no such user"):
        store.remove("alice")


def test_require_role(store):
    store.add("boss", "pw", "admin")
    store.add("worker", "pw", "inspector")
    store.require_role("boss", "admin")
    store.require_role("boss", "inspector")  # an admin may do what an inspector may
    store.require_role("worker", "inspector")
    with pytest.raises(PermissionError, match="用户 worker 无权执行此操作（需要管理员）"):
        store.require_role("worker", "admin")
    with pytest.raises(PermissionError):
        store.require_role("ghost", "inspector")
    with pytest.raises(PermissionError):
        store.require_role(None, "inspector")


def test_corrupt_file_names_the_file(store):
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="users.json.*corrupt"):
        store.list()


def test_concurrent_adds_lose_nothing(store):
    errors = []

    def add(i):
        try:
            store.add(f"user{i}", "pw", "inspector")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.list()) == 8
    assert not list(store.path.parent.glob(".users-*.tmp"))


def test_groups_are_stored_listed_and_changed(tmp_path):
    from kb.access.users import UserStore

    store = UserStore(tmp_path / "users.json")
    store.add("zhang", "long-enough-1", "inspector", groups=["第三组", "第三组", "专项组"])
    assert store.groups("zhang") == ["专项组", "第三组"]
    assert store.list()[0]["groups"] == ["专项组", "第三组"]
    assert store.set_groups("zhang", add=["第五组"], remove=["专项组"]) == ["第三组", "第五组"]
    assert store.groups("nobody") == []
    with pytest.raises(ValueError):
        store.set_groups("nobody", add=["x"])
    with pytest.raises(ValueError):
        store.add("li", "long-enough-1", "inspector", groups=["bad group"])


@pytest.mark.parametrize("password", ["1", "short7!"])
def test_short_passwords_are_refused(tmp_path, password):
    from kb.access.users import UserStore

    with pytest.raises(ValueError, match="too short"):
        UserStore(tmp_path / "users.json").add("zhang", password, "inspector")
    UserStore(tmp_path / "users.json", min_password_length=1).add("zhang", password, "inspector")


# ---- #30 item 5: the password policy -------------------------------------------------------------------
@pytest.mark.parametrize("name, password", [
    ("zhang", "12345678"), ("zhang", "password"), ("zhang", "PassWord"), ("zhang", "qwertyuiop"), ("zhang", "woaini1314"),
    ("zhang", "87654321"), ("zhang", "abcdefghij"), ("zhang", "aaaaaaaaaa"), ("zhang", "123123123"),
    ("zhangsan", "zhangsan"), ("zhangsan", "ZhangSan2024"),
])
def test_common_simple_or_own_name_passwords_are_refused(tmp_path, name, password):
    from kb.access.users import PasswordPolicyError

    store = UserStore(tmp_path / "users.json")
    with pytest.raises(PasswordPolicyError):
        store.add(name, password, "inspector")
    assert not store.has_users()


def test_the_common_password_list_is_data_and_a_good_password_passes(tmp_path):
    from kb.access.users import COMMON_PASSWORDS_FILE, common_passwords

    assert COMMON_PASSWORDS_FILE.parent.name == "data" and len(common_passwords()) >= 300
    assert {"123456", "password", "qwerty", "1qaz2wsx"} <= common_passwords()
    UserStore(tmp_path / "users.json").add("zhangsan", "考察-组长-2024", "inspector")
