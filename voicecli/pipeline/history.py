"""Conversation history in SQLite. Each finished turn is committed as soon as it ends, so a
crash or kill never loses one."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicecli.errors import VoicecliError
from voicecli.pipeline.events import TurnRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, started_at REAL NOT NULL, models TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS turns (
  session_id TEXT NOT NULL REFERENCES sessions(id), turn INTEGER NOT NULL,
  user TEXT NOT NULL, assistant TEXT NOT NULL, full_reply TEXT NOT NULL, interrupted INTEGER NOT NULL,
  started_at REAL NOT NULL, ended_at REAL NOT NULL, latency TEXT NOT NULL, tools TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (session_id, turn));
"""
TURN_COLUMNS = ("session_id", "turn", "user", "assistant", "full_reply", "interrupted", "started_at", "ended_at",
                "latency", "tools", "language", "voice")


@dataclass(frozen=True)
class SessionSummary:
    id: str
    started_at: float
    turns: int
    first_user: str


class HistoryStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(turns)")}
            if "tools" not in columns:  # a database from before tools were recorded
                self._db.execute("ALTER TABLE turns ADD COLUMN tools TEXT NOT NULL DEFAULT '[]'")
            for column in ("language", "voice"):  # added later: older databases gain them
                if column not in columns:
                    self._db.execute(f"ALTER TABLE turns ADD COLUMN {column} TEXT")
        except (sqlite3.Error, OSError) as exc:
            raise VoicecliError(f"cannot open history database {self.path}: {exc}",
                                "pass another --history PATH or --no-history") from exc

    def new_session(self, models: dict[str, str]) -> str:
        sid = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        self._db.execute("INSERT INTO sessions (id, started_at, models) VALUES (?, ?, ?)",
                         (sid, time.time(), json.dumps(models)))
        return sid

    def add_turn(self, session_id: str, rec: TurnRecord) -> None:
        tools = rec.to_json()["tools"]
        self._db.execute(
            f"INSERT OR REPLACE INTO turns ({', '.join(TURN_COLUMNS)}) VALUES ({', '.join('?' * len(TURN_COLUMNS))})",
            (session_id, rec.turn, rec.user, rec.assistant, rec.full_reply, int(rec.interrupted),
             rec.started_at, rec.ended_at, json.dumps(rec.latency.as_dict()), json.dumps(tools), rec.language,
             rec.voice))

    def sessions(self, limit: int = 50, prefix: str = "") -> list[SessionSummary]:
        """The newest sessions first; only those whose id starts with ``prefix`` when given."""
        rows = self._db.execute(
            "SELECT s.id, s.started_at, COUNT(t.turn), COALESCE((SELECT user FROM turns WHERE session_id = s.id "
            "ORDER BY turn LIMIT 1), '') FROM sessions s LEFT JOIN turns t ON t.session_id = s.id "
            "WHERE substr(s.id, 1, ?) = ? GROUP BY s.id ORDER BY s.started_at DESC LIMIT ?",
            (len(prefix), prefix, limit)).fetchall()
        return [SessionSummary(*r) for r in rows]

    def turns(self, session_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT turn, user, assistant, interrupted, started_at, ended_at, latency, tools, language, voice "
            "FROM turns WHERE session_id = ? ORDER BY turn", (session_id,)).fetchall()
        return [{"turn": r[0], "user": r[1], "assistant": r[2], "interrupted": bool(r[3]),
                 "started_at": r[4], "ended_at": r[5], "latency_ms": json.loads(r[6]), "tools": json.loads(r[7]),
                 "language": r[8], "voice": r[9]} for r in rows]

    def find_session(self, prefix: str) -> str | None:
        if prefix == "last":
            row = self._db.execute("SELECT id FROM sessions ORDER BY started_at DESC LIMIT 1").fetchone()
            return row[0] if row else None
        rows = self._db.execute("SELECT id FROM sessions WHERE id LIKE ?", (prefix + "%",)).fetchall()
        return rows[0][0] if len(rows) == 1 else None

    def close(self) -> None:
        self._db.close()
