// Calls every supported method through @solana/web3.js 1.x and @solana/kit against a running
// replica and checks the values against expectations the Rust test derived from the archive.
// Usage: node run.mjs <rpc-url> <expectations.json>
// Prints one line per failed check and "N passed, M failed"; exits 1 on any failure.

import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import * as web3 from '@solana/web3.js';
import { address, createSolanaRpc } from '@solana/kit';

const [url, expectationsPath] = process.argv.slice(2);
if (!url || !expectationsPath) {
  console.error('usage: node run.mjs <rpc-url> <expectations.json>');
  process.exit(2);
}
const E = JSON.parse(readFileSync(expectationsPath, 'utf8'));
const T = E.tokens;

let passed = 0;
const failures = [];
async function check(name, body) {
  try {
    await body();
    passed += 1;
  } catch (error) {
    failures.push(`${name}: ${error && error.stack ? error.stack.split('\n').slice(0, 3).join(' | ') : error}`);
  }
}
function eq(actual, expected, what = '') {
  const norm = (value) => JSON.parse(JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)));
  if (!isDeepStrictEqual(norm(actual), norm(expected))) {
    throw new Error(`${what} expected ${JSON.stringify(norm(expected))}, got ${JSON.stringify(norm(actual))}`);
  }
}
function ok(condition, what) {
  if (!condition) throw new Error(`${what} does not hold`);
}
const sorted = (keys) => [...keys].sort((a, b) => Buffer.compare(new web3.PublicKey(a).toBuffer(), new web3.PublicKey(b).toBuffer()));

// ---------------------------------------------------------------- @solana/web3.js 1.x
const connection = new web3.Connection(url, 'finalized');
const pk = (text) => new web3.PublicKey(text);
const unknown = web3.Keypair.generate().publicKey;

await check('web3 getSlot', async () => eq(await connection.getSlot(), E.slot));
await check('web3 getBlockHeight', async () => eq(await connection.getBlockHeight(), E.blockHeight));
await check('web3 getEpochInfo', async () => {
  const info = await connection.getEpochInfo();
  eq(info.absoluteSlot, E.slot, 'absoluteSlot');
  eq(info.blockHeight, E.blockHeight, 'blockHeight');
});
await check('web3 getEpochSchedule', async () => {
  const schedule = await connection.getEpochSchedule();
  eq(schedule.slotsPerEpoch, E.epochSchedule.slotsPerEpoch);
  eq(schedule.warmup, E.epochSchedule.warmup);
  eq(schedule.firstNormalSlot, E.epochSchedule.firstNormalSlot);
});
await check('web3 getInflationGovernor', async () => {
  const governor = await connection.getInflationGovernor();
  eq(governor.initial, E.inflation.initial);
  eq(governor.foundationTerm, E.inflation.foundationTerm);
});
await check('web3 getInflationRate', async () => {
  const rate = await connection.getInflationRate();
  ok(typeof rate.total === 'number' && rate.total > 0, 'total rate');
  eq(rate.validator + rate.foundation, rate.total, 'validator + foundation');
});
await check('web3 getLatestBlockhash', async () => {
  const latest = await connection.getLatestBlockhash();
  eq(latest.blockhash, E.blockhash);
  eq(latest.lastValidBlockHeight, E.blockHeight + 150);
});
await check('web3 isBlockhashValid', async () => {
  eq((await connection.isBlockhashValid(E.blockhash)).value, true);
  eq((await connection.isBlockhashValid(web3.Keypair.generate().publicKey.toBase58())).value, false);
});
await check('web3 getBalance', async () => {
  eq(await connection.getBalance(pk(E.stakeAccount.pubkey)), E.stakeAccount.lamports);
  eq(await connection.getBalance(unknown), 0);
});
await check('web3 getAccountInfo', async () => {
  const vote = await connection.getAccountInfo(pk(E.voteAccount.pubkey));
  eq(vote.lamports, E.voteAccount.lamports);
  eq(vote.owner.toBase58(), E.voteAccount.owner);
  eq(vote.data.toString('base64'), E.voteAccount.dataBase64);
  const data = await connection.getAccountInfo(pk(E.dataAccount.pubkey));
  eq([...data.data], [1, 2, 3, 4, 5]);
  eq(await connection.getAccountInfo(unknown), null);
});
await check('web3 getParsedAccountInfo', async () => {
  const account = await connection.getParsedAccountInfo(pk(T.accountA1));
  eq(account.value.data.program, 'spl-token');
  eq(account.value.data.parsed.info.tokenAmount, { amount: '420', decimals: 2, uiAmount: 4.2, uiAmountString: '4.2' });
  const stake = await connection.getParsedAccountInfo(pk(E.stakeAccount.pubkey));
  eq(stake.value.data.program, 'stake');
});
await check('web3 getMultipleAccountsInfo', async () => {
  const accounts = await connection.getMultipleAccountsInfo([pk(E.dataAccount.pubkey), unknown, pk(E.voteAccount.pubkey)]);
  eq(accounts.length, 3);
  eq(accounts[0].lamports, 42);
  eq(accounts[1], null);
  eq(accounts[2].data.length, E.voteAccount.space);
});
await check('web3 getProgramAccounts', async () => {
  const accounts = await connection.getProgramAccounts(pk(E.program));
  eq(accounts.map((a) => a.pubkey.toBase58()), [E.programAccount.pubkey]);
  eq(accounts[0].account.lamports, 42);
  const owned = await connection.getProgramAccounts(pk(E.tokenProgram), {
    filters: [{ dataSize: 165 }, { memcmp: { offset: 32, bytes: T.owner1 } }],
  });
  eq(owned.map((a) => a.pubkey.toBase58()), sorted([T.accountA1, T.accountA2, T.native1]));
});
await check('web3 getParsedProgramAccounts', async () => {
  const accounts = await connection.getParsedProgramAccounts(pk(E.tokenProgram), {
    filters: [{ dataSize: 165 }, { memcmp: { offset: 0, bytes: T.mintA } }],
  });
  const amounts = Object.fromEntries(accounts.map((a) => [a.pubkey.toBase58(), a.account.data.parsed.info.tokenAmount.amount]));
  eq(amounts, { [T.accountA1]: '420', [T.accountA2]: '80', [T.accountA3]: '0' });
});
await check('web3 getTokenAccountsByOwner', async () => {
  const raw = await connection.getTokenAccountsByOwner(pk(T.owner1), { programId: pk(E.tokenProgram) });
  eq(raw.value.map((a) => a.pubkey.toBase58()), sorted([T.accountA1, T.accountA2, T.native1]));
  eq(raw.value[0].account.data.length, 165);
});
await check('web3 getParsedTokenAccountsByOwner', async () => {
  const byMint = await connection.getParsedTokenAccountsByOwner(pk(T.owner1), { mint: pk(T.mintA) });
  const ui = Object.fromEntries(byMint.value.map((a) => [a.pubkey.toBase58(), a.account.data.parsed.info.tokenAmount.uiAmountString]));
  eq(ui, { [T.accountA1]: '4.2', [T.accountA2]: '0.8' });
  const token2022 = await connection.getParsedTokenAccountsByOwner(pk(T.owner1), { programId: pk(E.token2022Program) });
  eq(token2022.value.length, 1);
  const info = token2022.value[0].account.data.parsed.info;
  eq(info.tokenAmount.uiAmountString, '0.25');
  eq(info.delegate, T.delegate);
  eq(info.extensions, [{ extension: 'immutableOwner' }]);
  eq(token2022.value[0].account.data.program, 'spl-token-2022');
});
await check('web3 getTokenAccountsByDelegate', async () => {
  const response = await connection._rpcRequest('getTokenAccountsByDelegate', [T.delegate, { programId: E.tokenProgram }, { encoding: 'jsonParsed' }]);
  eq(response.result.value.map((a) => a.pubkey), [T.accountA2]);
  eq(response.result.value[0].account.data.parsed.info.delegatedAmount.amount, '50');
});
await check('web3 getTokenAccountBalance', async () => {
  eq((await connection.getTokenAccountBalance(pk(T.accountA1))).value, { amount: '420', decimals: 2, uiAmount: 4.2, uiAmountString: '4.2' });
  eq((await connection.getTokenAccountBalance(pk(T.native1))).value.uiAmountString, '1');
});
await check('web3 getTokenSupply', async () => {
  eq((await connection.getTokenSupply(pk(T.mintA))).value, { amount: '500', decimals: 2, uiAmount: 5, uiAmountString: '5' });
  eq((await connection.getTokenSupply(pk(T.mintB))).value.uiAmountString, '1');
});
await check('web3 getTokenLargestAccounts', async () => {
  const largest = await connection.getTokenLargestAccounts(pk(T.mintA));
  eq(largest.value.map((a) => [a.address.toBase58(), a.amount]), [[T.accountA1, '420'], [T.accountA2, '80'], [T.accountA3, '0']]);
});
await check('web3 getLargestAccounts', async () => {
  const largest = await connection.getLargestAccounts();
  eq(largest.value.slice(0, 3).map((a) => ({ address: a.address.toBase58(), lamports: a.lamports })), E.largest);
});
await check('web3 getSupply', async () => {
  const supply = await connection.getSupply();
  eq(supply.value.total, E.capitalization);
  eq(supply.value.circulating + supply.value.nonCirculating, E.capitalization);
});
await check('web3 getMinimumBalanceForRentExemption', async () => {
  eq(await connection.getMinimumBalanceForRentExemption(165), E.rentExemption['165']);
});
await check('web3 getFeeForMessage', async () => {
  const payer = web3.Keypair.generate().publicKey;
  const message = new web3.TransactionMessage({
    payerKey: payer,
    recentBlockhash: E.blockhash,
    instructions: [web3.SystemProgram.transfer({ fromPubkey: payer, toPubkey: unknown, lamports: 1 })],
  }).compileToV0Message();
  eq((await connection.getFeeForMessage(message)).value, 5000);
});
await check('web3 getStakeMinimumDelegation', async () => {
  eq((await connection.getStakeMinimumDelegation()).value, E.stakeMinimumDelegation);
});
await check('web3 getVersion', async () => {
  const version = await connection.getVersion();
  ok(/^\d+\.\d+\.\d+/.test(version['solana-core']), 'semver solana-core');
  ok(typeof version['feature-set'] === 'number', 'numeric feature-set');
});
await check('web3 getGenesisHash', async () => eq(await connection.getGenesisHash(), E.genesisHash));
await check('web3 getIdentity', async () => eq((await connection._rpcRequest('getIdentity', [])).result.identity, E.identity));
await check('web3 getStakeActivation is removed (-32601)', async () => {
  let error = null;
  try {
    await connection.getStakeActivation(pk(E.stakeAccount.pubkey));
  } catch (e) {
    error = e;
  }
  ok(error && /-32601|Method not found/.test(String(error.message)), 'a -32601 error');
});

// ---------------------------------------------------------------- @solana/kit
const rpc = createSolanaRpc(url);
const send = (request) => request.send();

await check('kit getSlot', async () => eq(await send(rpc.getSlot()), BigInt(E.slot)));
await check('kit getBlockHeight', async () => eq(await send(rpc.getBlockHeight()), BigInt(E.blockHeight)));
await check('kit getHealth', async () => eq(await send(rpc.getHealth()), 'ok'));
await check('kit getVersion', async () => ok(typeof (await send(rpc.getVersion()))['solana-core'] === 'string', 'solana-core'));
await check('kit getIdentity', async () => eq((await send(rpc.getIdentity())).identity, E.identity));
await check('kit getGenesisHash', async () => eq(await send(rpc.getGenesisHash()), E.genesisHash));
await check('kit getAccountInfo', async () => {
  const base64 = await send(rpc.getAccountInfo(address(E.voteAccount.pubkey), { encoding: 'base64' }));
  eq(base64.value.lamports, BigInt(E.voteAccount.lamports));
  eq(base64.value.space, BigInt(E.voteAccount.space));
  eq(base64.value.owner, E.voteAccount.owner);
  eq(base64.value.data, [E.voteAccount.dataBase64, 'base64']);
  // Without an encoding the data is a bare base58 string.
  const bare = await send(rpc.getAccountInfo(address(E.dataAccount.pubkey)));
  eq(bare.value.data, '7bWpTW');
  const zstd = await send(rpc.getAccountInfo(address(E.dataAccount.pubkey), { encoding: 'base64+zstd' }));
  eq(zstd.value.data[1], 'base64+zstd');
  const sliced = await send(rpc.getAccountInfo(address(E.dataAccount.pubkey), { encoding: 'base64', dataSlice: { offset: 1, length: 2 } }));
  eq(sliced.value.data, ['AgM=', 'base64']);
  eq(sliced.value.space, 5n);
});
await check('kit getBalance', async () => eq((await send(rpc.getBalance(address(E.stakeAccount.pubkey)))).value, BigInt(E.stakeAccount.lamports)));
await check('kit getMultipleAccounts', async () => {
  const accounts = await send(rpc.getMultipleAccounts([address(E.dataAccount.pubkey), address(unknown.toBase58())], { encoding: 'base64' }));
  eq(accounts.value[0].data, ['AQIDBAU=', 'base64']);
  eq(accounts.value[1], null);
});
await check('kit getProgramAccounts', async () => {
  const withContext = await send(rpc.getProgramAccounts(address(E.program), { encoding: 'base64', withContext: true }));
  eq(withContext.context.slot, BigInt(E.slot));
  eq(withContext.value.map((a) => a.pubkey), [E.programAccount.pubkey]);
  const parsed = await send(rpc.getProgramAccounts(address(E.tokenProgram), { encoding: 'jsonParsed', filters: [{ memcmp: { offset: 0n, bytes: T.mintA, encoding: 'base58' } }, { dataSize: 165n }] }));
  eq(parsed.length, 3);
});
await check('kit getTokenAccountsByOwner', async () => {
  const accounts = await send(rpc.getTokenAccountsByOwner(address(T.owner1), { mint: address(T.mintA) }, { encoding: 'jsonParsed' }));
  const ui = Object.fromEntries(accounts.value.map((a) => [a.pubkey, a.account.data.parsed.info.tokenAmount.uiAmountString]));
  eq(ui, { [T.accountA1]: '4.2', [T.accountA2]: '0.8' });
});
await check('kit getTokenAccountsByDelegate', async () => {
  const accounts = await send(rpc.getTokenAccountsByDelegate(address(T.delegate), { programId: address(E.token2022Program) }, { encoding: 'jsonParsed' }));
  eq(accounts.value.map((a) => a.pubkey), [T.accountB1]);
  eq(accounts.value[0].account.data.parsed.info.delegatedAmount.amount, '100');
});
await check('kit getTokenAccountBalance', async () => {
  const balance = await send(rpc.getTokenAccountBalance(address(T.accountA1)));
  eq(balance.value.amount, '420');
  eq(balance.value.uiAmountString, '4.2');
});
await check('kit getTokenSupply', async () => eq((await send(rpc.getTokenSupply(address(T.mintA)))).value.amount, '500'));
await check('kit getTokenLargestAccounts', async () => {
  const largest = await send(rpc.getTokenLargestAccounts(address(T.mintA)));
  eq(largest.value.map((a) => a.address), [T.accountA1, T.accountA2, T.accountA3]);
});
await check('kit getLargestAccounts', async () => {
  const largest = await send(rpc.getLargestAccounts({ filter: 'circulating' }));
  eq(largest.value[0].address, E.largest[0].address);
  eq(largest.value[0].lamports, BigInt(E.largest[0].lamports));
});
await check('kit getSupply', async () => {
  const supply = await send(rpc.getSupply({ excludeNonCirculatingAccountsList: true }));
  eq(supply.value.total, BigInt(E.capitalization));
  eq(supply.value.nonCirculatingAccounts, []);
});
await check('kit getMinimumBalanceForRentExemption', async () => eq(await send(rpc.getMinimumBalanceForRentExemption(0n)), BigInt(E.rentExemption['0'])));
await check('kit getEpochSchedule', async () => eq((await send(rpc.getEpochSchedule())).slotsPerEpoch, BigInt(E.epochSchedule.slotsPerEpoch)));
await check('kit getEpochInfo', async () => eq((await send(rpc.getEpochInfo())).absoluteSlot, BigInt(E.slot)));
await check('kit getInflationGovernor keeps floats', async () => {
  const governor = await send(rpc.getInflationGovernor());
  eq(typeof governor.foundationTerm, 'number');
  eq(governor.foundationTerm, E.inflation.foundationTerm);
});
await check('kit getInflationRate', async () => eq(typeof (await send(rpc.getInflationRate())).total, 'number'));
await check('kit getLatestBlockhash', async () => eq((await send(rpc.getLatestBlockhash())).value.blockhash, E.blockhash));
await check('kit isBlockhashValid', async () => eq((await send(rpc.isBlockhashValid(E.blockhash))).value, true));
await check('kit getFeeForMessage', async () => {
  const payer = web3.Keypair.generate().publicKey;
  const message = new web3.TransactionMessage({
    payerKey: payer,
    recentBlockhash: E.blockhash,
    instructions: [web3.SystemProgram.transfer({ fromPubkey: payer, toPubkey: unknown, lamports: 1 })],
  }).compileToLegacyMessage();
  const base64 = Buffer.from(message.serialize()).toString('base64');
  eq((await send(rpc.getFeeForMessage(base64))).value, 5000n);
});
await check('kit getBlockCommitment', async () => {
  const commitment = await send(rpc.getBlockCommitment(BigInt(E.slot)));
  eq(commitment.commitment, null);
  ok(typeof commitment.totalStake === 'bigint', 'bigint totalStake');
});
await check('kit getStakeMinimumDelegation', async () => eq((await send(rpc.getStakeMinimumDelegation())).value, BigInt(E.stakeMinimumDelegation)));
await check('kit minContextSlot', async () => {
  let error = null;
  try {
    await send(rpc.getBalance(address(E.stakeAccount.pubkey), { minContextSlot: BigInt(E.slot) + 1000n }));
  } catch (e) {
    error = e;
  }
  ok(error && error.context && Number(error.context.__code) === -32016, '-32016');
});

for (const failure of failures) console.log(`FAIL ${failure}`);
console.log(`${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
