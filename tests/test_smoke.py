from retain import create_memory_manager
from retain.testing import FakeChatModel, insert


def test_manager_round_trip() -> None:
    model = FakeChatModel([[insert("User likes dogs")]])
    memories = create_memory_manager(model).invoke([{"role": "user", "content": "I like dogs"}])
    assert memories[0][1].content == "User likes dogs"
