"""A text progress bar for the long commands (`rdtheory report`, `rdtheory verify`), written to stderr."""

from typing import TextIO


class Progress:
    """`[#####.....] 5/10 label` on `stream`: redrawn in place on a terminal, one line per step otherwise."""

    def __init__(self, total: int, stream: TextIO, width: int = 10) -> None:
        self.total, self.stream, self.width, self.done = total, stream, width, 0
        self.live = getattr(stream, "isatty", lambda: False)()
        self.text = ""

    def step(self, label: str) -> None:
        self.done = min(self.done + 1, self.total)
        filled = round(self.width * self.done / self.total)
        self.text = f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {label}"
        self.stream.write(f"\r{self.text}\x1b[K" if self.live else f"{self.text}\n")
        self.stream.flush()

    def clear(self) -> None:
        if self.live and self.text:
            self.stream.write("\r\x1b[K")

    def redraw(self) -> None:
        if self.live and self.text:
            self.stream.write(f"\r{self.text}\x1b[K")
            self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
