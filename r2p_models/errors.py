"""Exception types shared by every layer, and the wording of an undecodable text file.

A leaf module: imports nothing of the package.
"""

from __future__ import annotations

__all__ = ["InputError", "decode_utf8"]


class InputError(ValueError):
    """Bad input from a user: a config, a table, a ledger file, an argument.

    The message is one line that names the file, the column or key and the first
    offending rows, and nothing has been written. The CLI turns it into exit code 2.
    """


def decode_utf8(raw: bytes, where: str, error: type[InputError] = InputError) -> str:
    """Decode the bytes of a text file as UTF-8, naming the first bad byte's position.

    Parameters
    ----------
    raw : bytes
        The file's content.
    where : str
        The file's name, for the message.
    error : type of InputError
        The exception raised (e.g. the panel's or the config's own subclass).

    Returns
    -------
    str
        The text, a leading UTF-8 byte order mark removed.

    Raises
    ------
    InputError
        Of type ``error``: ``"<where>: line L, column C: byte 0xNN is not UTF-8 (save the
        file as UTF-8)"``, lines and columns counted from 1, columns in characters.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line_start = raw.rfind(b"\n", 0, err.start) + 1
        line = raw.count(b"\n", 0, err.start) + 1
        # the bytes before the first bad one are valid UTF-8
        column = len(raw[line_start:err.start].decode("utf-8").removeprefix("\ufeff")) + 1
        raise error(f"{where}: line {line}, column {column}: byte 0x{raw[err.start]:02x} is "
                    "not UTF-8 (save the file as UTF-8)") from None
    return text.removeprefix("\ufeff")
