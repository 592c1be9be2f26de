# test_driver.debug
from abc import ABC

class DebugAbstract(ABC):
    def breakpoint(self, host: str = "127.0.0.1", port: int = 4444) -> None: ...

class DebugNop(DebugAbstract): ...
