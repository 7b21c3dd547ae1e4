// @solana/web3.js 1.x and @solana/kit against a replica that follows an upstream (after the
// upstream stopped producing, so the finalized state is still): the methods whose answers depend on the
// slots it followed, checked against expectations the Rust test derived from the simulator.
// Usage: node follow.mjs <rpc-url> <expectations.json>
// Prints one line per failed check and "N passed, M failed"; exits 1 on any failure.

import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import * as web3 from '@solana/web3.js';
import { address, createSolanaRpc } from '@solana/kit';

const [url, expectationsPath] = process.argv.slice(2);
if (!url || !expectationsPath) {
  console.error('usage: node follow.mjs <rpc-url> <expectations.json>');
  process.exit(2);
}
const E = JSON.parse(readFileSync(expectationsPath, 'utf8'));

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

const connection = new web3.Connection(url, 'finalized');
await check('web3 getEpochInfo', async () => {
  const info = await connection.getEpochInfo();
  eq(info.absoluteSlot, E.slot, 'absoluteSlot');
  eq(info.transactionCount, E.transactionCount, 'transactionCount');
});
await check('web3 getTransactionCount', async () => eq(await connection.getTransactionCount(), E.transactionCount));
await check('web3 getEpochInfo confirmed', async () => {
  const info = await connection.getEpochInfo('confirmed');
  if (!(info.transactionCount >= E.transactionCount)) throw new Error(`confirmed count ${info.transactionCount}`);
  eq(await connection.getTransactionCount('confirmed'), info.transactionCount, 'getTransactionCount confirmed');
});
await check('web3 getSlot', async () => eq(await connection.getSlot(), E.slot));
await check('web3 getBlockHeight', async () => eq(await connection.getBlockHeight(), E.blockHeight));
await check('web3 getLatestBlockhash', async () => eq((await connection.getLatestBlockhash()).blockhash, E.blockhash));
await check('web3 getAccountInfo Clock', async () => {
  const info = await connection.getAccountInfo(new web3.PublicKey('SysvarC1ock11111111111111111111111111111111'));
  eq(info.data.readBigUInt64LE(0), BigInt(E.slot), 'clock slot');
});

const rpc = createSolanaRpc(url);
const send = (request) => request.send();
await check('kit getEpochInfo', async () => {
  const info = await send(rpc.getEpochInfo({ commitment: 'finalized' }));
  eq(info.absoluteSlot, BigInt(E.slot));
  eq(info.transactionCount, BigInt(E.transactionCount));
});
await check('kit getTransactionCount', async () => eq(await send(rpc.getTransactionCount({ commitment: 'finalized' })), BigInt(E.transactionCount)));
await check('kit getBalance', async () => {
  const balance = await send(rpc.getBalance(address('SysvarC1ock11111111111111111111111111111111'), { commitment: 'finalized' }));
  eq(balance.context.slot, BigInt(E.slot));
});

for (const failure of failures) console.log(`FAIL ${failure}`);
console.log(`${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
