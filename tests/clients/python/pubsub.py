"""solana-py's WebSocket client (SolanaWsClient, notifications parsed by solders) against a
replica that follows the simulator: slot, root, account (the Clock sysvar, whose data names the
slot it was written in) and program subscriptions, and Agave's error for an unknown
subscription id.

Usage: python3 pubsub.py <ws-url>
Prints one line per failed check and "N passed, M failed"; exits 1 on any failure.
"""

import asyncio
import sys
import traceback

from solana.rpc.commitment import Confirmed
from solana.rpc.websocket_api import SolanaWsClient
from solders.pubkey import Pubkey
from solders.rpc.responses import (
    AccountNotification,
    ProgramNotification,
    RootNotification,
    SlotNotification,
)

CLOCK = Pubkey.from_string("SysvarC1ock11111111111111111111111111111111")
SYSTEM = Pubkey.from_string("11111111111111111111111111111111")


async def main(url):
    passed, failures = 0, []

    def check(name, condition, detail=""):
        nonlocal passed
        if condition:
            passed += 1
        else:
            failures.append(f"{name}: {detail}")

    seen = {"slot": [], "root": [], "clock": [], "program": []}
    async with SolanaWsClient(url) as ws:
        await ws.slot_subscribe()
        await ws.root_subscribe()
        await ws.account_subscribe(pubkey=CLOCK, commitment=Confirmed, encoding="base64")
        await ws.program_subscribe(program_id=SYSTEM, commitment=Confirmed, encoding="base64")
        while min(len(seen["slot"]), len(seen["root"]), len(seen["clock"])) < 5:
            notification = await asyncio.wait_for(ws.recv(), 20)
            if isinstance(notification, SlotNotification):
                seen["slot"].append(notification.result)
            elif isinstance(notification, RootNotification):
                seen["root"].append(notification.result)
            elif isinstance(notification, AccountNotification):
                seen["clock"].append(notification.result)
            elif isinstance(notification, ProgramNotification):
                seen["program"].append(notification.result)
        bogus = None
        try:
            await ws.account_subscribe(pubkey=CLOCK, commitment="not-a-level")
        except Exception as error:  # the client or the server refuses it
            bogus = error
        check("bad commitment refused", bogus is not None, "accepted")

    slots = [info.slot for info in seen["slot"]]
    check("slots increase", slots == sorted(set(slots)), slots)
    check(
        "slot parents and roots",
        all(info.parent < info.slot and info.root <= info.slot for info in seen["slot"]),
        seen["slot"],
    )
    check("roots increase", seen["root"] == sorted(set(seen["root"])), seen["root"])
    for result in seen["clock"]:
        data = bytes(result.value.data)
        written = int.from_bytes(data[0:8], "little")
        check("clock slot is the context slot", written == result.context.slot, (written, result.context.slot))
        check("clock owner", str(result.value.owner) == "Sysvar1111111111111111111111111111111111111", result.value.owner)
    for result in seen["program"]:
        check("program notification owner", result.value.account.owner == SYSTEM, result.value.account.owner)

    for failure in failures:
        print(f"FAIL {failure}")
    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(sys.argv[1])))
    except Exception:
        traceback.print_exc()
        print("0 passed, 1 failed")
        sys.exit(1)
