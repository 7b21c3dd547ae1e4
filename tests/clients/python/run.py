"""Calls every supported method through solana-py (AsyncClient) and solders against a running
replica and checks the values against expectations the Rust test derived from the archive.

Usage: python3 run.py <rpc-url> <expectations.json>
Prints one line per failed check and "N passed, M failed"; exits 1 on any failure.
"""

import asyncio
import base64
import json
import sys
import traceback

import httpx2
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed, Finalized, Processed
from solana.rpc.models import DataSliceOpts, MemcmpOpts, TokenAccountOpts
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey

from solders.rpc.requests import (
    GetBalance,
    GetHealth,
    GetSlot,
    GetStakeMinimumDelegation,
    IsBlockhashValid,
    batch_to_json,
)
from solders.rpc.responses import (
    GetBalanceResp,
    GetHealthResp,
    GetSlotResp,
    GetStakeMinimumDelegationResp,
    IsBlockhashValidResp,
    batch_from_json,
)
from solders.system_program import TransferParams, transfer


def main() -> int:
    url, expectations_path = sys.argv[1], sys.argv[2]
    with open(expectations_path, encoding="utf-8") as file:
        expectations = json.load(file)
    return asyncio.run(run(url, expectations))


async def run(url: str, e: dict) -> int:
    t = e["tokens"]
    pk = Pubkey.from_string
    client = AsyncClient(url, commitment=Finalized)
    unknown = Keypair().pubkey()
    passed = 0
    failures: list[str] = []

    async def check(name, body):
        nonlocal passed
        try:
            await body()
            passed += 1
        except Exception:  # noqa: BLE001 - every failure is reported
            failures.append(f"{name}: {traceback.format_exc(limit=2).strip()}")

    def eq(actual, expected, what=""):
        if actual != expected:
            raise AssertionError(f"{what} expected {expected!r}, got {actual!r}")

    async def raw(method, params=None):
        body = {"jsonrpc": "2.0", "id": 1, "method": method}
        if params is not None:
            body["params"] = params
        async with httpx2.AsyncClient() as http:
            response = await http.post(url, json=body)
        return response.json()

    sorted_keys = lambda keys: sorted(keys, key=lambda key: bytes(pk(key)))  # noqa: E731

    async def get_slot():
        eq((await client.get_slot()).value, e["slot"])
        eq((await client.get_slot(Confirmed)).value, e["slot"])
        eq((await client.get_slot(Processed)).value, e["slot"])

    async def get_block_height():
        eq((await client.get_block_height()).value, e["blockHeight"])

    async def get_epoch_info():
        info = (await client.get_epoch_info()).value
        eq(info.absolute_slot, e["slot"])
        eq(info.block_height, e["blockHeight"])

    async def get_epoch_schedule():
        schedule = (await client.get_epoch_schedule()).value
        eq(schedule.slots_per_epoch, e["epochSchedule"]["slotsPerEpoch"])
        eq(schedule.warmup, e["epochSchedule"]["warmup"])

    async def get_inflation():
        governor = (await client.get_inflation_governor()).value
        eq(governor.initial, e["inflation"]["initial"])
        eq(governor.foundation_term, e["inflation"]["foundationTerm"])
        rate = (await client.get_inflation_rate()).value
        eq(rate.validator + rate.foundation, rate.total)

    async def get_latest_blockhash():
        latest = (await client.get_latest_blockhash()).value
        eq(str(latest.blockhash), e["blockhash"])
        eq(latest.last_valid_block_height, e["blockHeight"] + 150)

    async def get_balance():
        eq((await client.get_balance(pk(e["stakeAccount"]["pubkey"]))).value, e["stakeAccount"]["lamports"])
        eq((await client.get_balance(unknown)).value, 0)

    async def get_account_info():
        vote = (await client.get_account_info(pk(e["voteAccount"]["pubkey"]))).value
        eq(vote.lamports, e["voteAccount"]["lamports"])
        eq(str(vote.owner), e["voteAccount"]["owner"])
        eq(base64.b64encode(bytes(vote.data)).decode(), e["voteAccount"]["dataBase64"])
        sliced = (
            await client.get_account_info(
                pk(e["dataAccount"]["pubkey"]), data_slice=DataSliceOpts(offset=1, length=2)
            )
        ).value
        eq(bytes(sliced.data), bytes([2, 3]))
        eq((await client.get_account_info(unknown)).value, None)
        parsed = (await client.get_account_info_json_parsed(pk(t["accountA1"]))).value
        eq(parsed.data.parsed["info"]["tokenAmount"]["uiAmountString"], "4.2")

    async def get_multiple_accounts():
        accounts = (
            await client.get_multiple_accounts([pk(e["dataAccount"]["pubkey"]), unknown])
        ).value
        eq(bytes(accounts[0].data), bytes([1, 2, 3, 4, 5]))
        eq(accounts[1], None)
        parsed = (await client.get_multiple_accounts_json_parsed([pk(t["mintA"])])).value
        eq(parsed[0].data.parsed["info"]["supply"], "500")

    async def get_program_accounts():
        accounts = (await client.get_program_accounts(pk(e["program"]), encoding="base64")).value
        eq([str(a.pubkey) for a in accounts], [e["programAccount"]["pubkey"]])
        owned = (
            await client.get_program_accounts(
                pk(e["tokenProgram"]),
                encoding="base64",
                filters=[165, MemcmpOpts(offset=32, bytes=t["owner1"])],
            )
        ).value
        eq([str(a.pubkey) for a in owned], sorted_keys([t["accountA1"], t["accountA2"], t["native1"]]))
        parsed = (
            await client.get_program_accounts_json_parsed(
                pk(e["tokenProgram"]), filters=[165, MemcmpOpts(offset=0, bytes=t["mintA"])]
            )
        ).value
        amounts = {str(a.pubkey): a.account.data.parsed["info"]["tokenAmount"]["amount"] for a in parsed}
        eq(amounts, {t["accountA1"]: "420", t["accountA2"]: "80", t["accountA3"]: "0"})

    async def get_token_accounts():
        by_owner = (
            await client.get_token_accounts_by_owner(pk(t["owner1"]), TokenAccountOpts(program_id=pk(e["tokenProgram"])))
        ).value
        eq([str(a.pubkey) for a in by_owner], sorted_keys([t["accountA1"], t["accountA2"], t["native1"]]))
        parsed = (
            await client.get_token_accounts_by_owner_json_parsed(pk(t["owner1"]), TokenAccountOpts(mint=pk(t["mintA"])))
        ).value
        ui = {str(a.pubkey): a.account.data.parsed["info"]["tokenAmount"]["uiAmountString"] for a in parsed}
        eq(ui, {t["accountA1"]: "4.2", t["accountA2"]: "0.8"})
        delegated = (
            await client.get_token_accounts_by_delegate_json_parsed(
                pk(t["delegate"]), TokenAccountOpts(program_id=pk(e["token2022Program"]))
            )
        ).value
        eq([str(a.pubkey) for a in delegated], [t["accountB1"]])
        eq(delegated[0].account.data.parsed["info"]["extensions"], [{"extension": "immutableOwner"}])
        delegated_raw = (
            await client.get_token_accounts_by_delegate(pk(t["delegate"]), TokenAccountOpts(mint=pk(t["mintA"])))
        ).value
        eq([str(a.pubkey) for a in delegated_raw], [t["accountA2"]])

    async def token_amounts():
        balance = (await client.get_token_account_balance(pk(t["accountA1"]))).value
        eq((balance.amount, balance.decimals, balance.ui_amount, balance.ui_amount_string), ("420", 2, 4.2, "4.2"))
        supply = (await client.get_token_supply(pk(t["mintA"]))).value
        eq((supply.amount, supply.ui_amount_string), ("500", "5"))
        largest = (await client.get_token_largest_accounts(pk(t["mintA"]))).value
        eq([(str(a.address), a.amount.amount) for a in largest], [(t["accountA1"], "420"), (t["accountA2"], "80"), (t["accountA3"], "0")])

    async def largest_and_supply():
        largest = (await client.get_largest_accounts()).value
        eq([{"address": str(a.address), "lamports": a.lamports} for a in largest[:3]], e["largest"])
        supply = (await client.get_supply()).value
        eq(supply.total, e["capitalization"])
        eq(supply.circulating + supply.non_circulating, e["capitalization"])

    async def rent():
        eq((await client.get_minimum_balance_for_rent_exemption(165)).value, e["rentExemption"]["165"])

    async def fee_for_message():
        payer = Keypair().pubkey()
        instruction = transfer(TransferParams(from_pubkey=payer, to_pubkey=unknown, lamports=1))
        message = MessageV0.try_compile(payer, [instruction], [], Hash.from_string(e["blockhash"]))
        eq((await client.get_fee_for_message(message)).value, 5000)
        stale = MessageV0.try_compile(payer, [instruction], [], Hash.new_unique())
        eq((await client.get_fee_for_message(stale)).value, None)

    async def node_info():
        eq((await client.get_genesis_hash()).value, Hash.from_string(e["genesisHash"]))
        eq(str((await client.get_identity()).value.identity), e["identity"])
        version = (await client.get_version()).value
        assert version.solana_core.count(".") == 2, version
        commitment = (await client.get_block_commitment(e["slot"])).value
        eq(commitment.commitment, None)
        assert await client.is_connected()

    async def solders_requests():
        async with httpx2.AsyncClient() as http:
            async def send(request, response_type):
                answer = await http.post(url, content=request.to_json(), headers={"Content-Type": "application/json"})
                return response_type.from_json(answer.text)

            eq((await send(IsBlockhashValid(Hash.from_string(e["blockhash"])), IsBlockhashValidResp)).value, True)
            eq((await send(GetStakeMinimumDelegation(), GetStakeMinimumDelegationResp)).value, e["stakeMinimumDelegation"])
            eq((await send(GetHealth(), GetHealthResp)).value, "ok")
            # A batch, as solana-py users send them; responses matched by id.
            body = batch_to_json([GetSlot(id=7), GetBalance(pk(e["stakeAccount"]["pubkey"]), id=8)])
            answer = await http.post(url, content=body, headers={"Content-Type": "application/json"})
            slot, balance = batch_from_json(answer.text, [GetSlotResp, GetBalanceResp])
            eq(slot.value, e["slot"])
            eq(balance.value, e["stakeAccount"]["lamports"])

    async def min_context_slot():
        response = await raw("getBalance", [e["stakeAccount"]["pubkey"], {"minContextSlot": e["slot"] + 1000}])
        eq(response["error"]["code"], -32016)
        eq(response["error"]["data"], {"contextSlot": e["slot"]})
        # solana-py sends explicit nulls: null means absent.
        ok = await raw("getBalance", [e["stakeAccount"]["pubkey"], {"commitment": None, "minContextSlot": None}])
        eq(ok["result"]["value"], e["stakeAccount"]["lamports"])

    for name, body in [
        ("get_slot", get_slot),
        ("get_block_height", get_block_height),
        ("get_epoch_info", get_epoch_info),
        ("get_epoch_schedule", get_epoch_schedule),
        ("get_inflation_governor/rate", get_inflation),
        ("get_latest_blockhash", get_latest_blockhash),
        ("get_balance", get_balance),
        ("get_account_info", get_account_info),
        ("get_multiple_accounts", get_multiple_accounts),
        ("get_program_accounts", get_program_accounts),
        ("get_token_accounts_by_owner/delegate", get_token_accounts),
        ("token balance/supply/largest", token_amounts),
        ("get_largest_accounts/get_supply", largest_and_supply),
        ("get_minimum_balance_for_rent_exemption", rent),
        ("get_fee_for_message", fee_for_message),
        ("node info", node_info),
        ("solders requests and batch", solders_requests),
        ("minContextSlot", min_context_slot),
    ]:
        await check(name, body)
    await client.close()
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
