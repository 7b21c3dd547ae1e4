// @solana/web3.js 1.x and @solana/kit subscriptions against a replica that follows the simulator:
// onSlotChange, onRootChange, onAccountChange (the Clock sysvar, whose data names the slot it
// was written in, and a token account), onProgramAccountChange with a memcmp filter, and kit's
// createSolanaRpcSubscriptions. Collects until the roots stop (the simulator finished), then
// compares the last finalized notifications with HTTP getAccountInfo.
// Usage: node pubsub.mjs <rpc-url> <ws-url> <expectations.json>
// Prints one line per failed check and "N passed, M failed"; exits 1 on any failure.

import { readFileSync } from 'node:fs';
import * as web3 from '@solana/web3.js';
import { address, createSolanaRpcSubscriptions } from '@solana/kit';

const [url, wsUrl, expectationsPath] = process.argv.slice(2);
if (!url || !wsUrl || !expectationsPath) {
  console.error('usage: node pubsub.mjs <rpc-url> <ws-url> <expectations.json>');
  process.exit(2);
}
const E = JSON.parse(readFileSync(expectationsPath, 'utf8'));
const CLOCK = 'SysvarC1ock11111111111111111111111111111111';
const TOKEN = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA';

let passed = 0;
const failures = [];
function check(name, body) {
  try {
    body();
    passed += 1;
  } catch (error) {
    failures.push(`${name}: ${error && error.message ? error.message : error}`);
  }
}
async function checkAsync(name, body) {
  try {
    await body();
    passed += 1;
  } catch (error) {
    failures.push(`${name}: ${error && error.message ? error.message : error}`);
  }
}
function assert(condition, what) {
  if (!condition) throw new Error(what);
}

const connection = new web3.Connection(url, { commitment: 'finalized', wsEndpoint: wsUrl });
const seen = { slots: [], roots: [], clock: [], token: [], program: [], kitSlots: [], kitClock: [], kitRoots: [] };
let lastRootAt = Date.now();

connection.onSlotChange((info) => seen.slots.push(info));
connection.onRootChange((root) => {
  seen.roots.push(root);
  lastRootAt = Date.now();
});
connection.onAccountChange(new web3.PublicKey(CLOCK), (account, context) => seen.clock.push({ account, context }), {
  commitment: 'confirmed',
});
connection.onAccountChange(
  new web3.PublicKey(E.tokenAccount),
  (account, context) => seen.token.push({ account, context }),
  { commitment: 'finalized' },
);
connection.onProgramAccountChange(
  new web3.PublicKey(TOKEN),
  (keyed, context) => seen.program.push({ keyed, context }),
  { commitment: 'finalized', filters: [{ dataSize: 165 }, { memcmp: { offset: 0, bytes: E.mint } }] },
);

const subscriptions = createSolanaRpcSubscriptions(wsUrl);
const abort = new AbortController();
async function collect(subscription, into) {
  try {
    for await (const notification of await subscription) into.push(notification);
  } catch (error) {
    if (!abort.signal.aborted) failures.push(`kit subscription: ${error}`);
  }
}
const kitDone = Promise.all([
  collect(subscriptions.slotNotifications().subscribe({ abortSignal: abort.signal }), seen.kitSlots),
  collect(subscriptions.rootNotifications().subscribe({ abortSignal: abort.signal }), seen.kitRoots),
  collect(
    subscriptions
      .accountNotifications(address(CLOCK), { commitment: 'confirmed', encoding: 'base64' })
      .subscribe({ abortSignal: abort.signal }),
    seen.kitClock,
  ),
]);

// The token account as it is once the subscriptions are in place: with no notification later,
// it must still be so at the end.
await new Promise((resolve) => setTimeout(resolve, 1500));
const tokenBaseline = await connection.getAccountInfo(new web3.PublicKey(E.tokenAccount), 'finalized');

// Until no root arrived for 4 s (the simulator finished), at most 90 s.
const started = Date.now();
while (Date.now() - lastRootAt < 4000 || seen.roots.length === 0) {
  if (Date.now() - started > 90000) break;
  await new Promise((resolve) => setTimeout(resolve, 200));
}
abort.abort();
await kitDone;

const increasing = (values) => values.every((value, i) => i === 0 || value > values[i - 1]);
check('web3 onSlotChange', () => {
  assert(seen.slots.length >= 5, `${seen.slots.length} slot notifications`);
  assert(increasing(seen.slots.map((s) => s.slot)), 'slots not increasing');
  for (const s of seen.slots) assert(s.parent < s.slot && s.root <= s.slot, JSON.stringify(s));
});
check('web3 onRootChange', () => {
  assert(seen.roots.length >= 5, `${seen.roots.length} roots`);
  assert(increasing(seen.roots), 'roots not increasing');
});
check('web3 onAccountChange Clock (confirmed)', () => {
  assert(seen.clock.length >= 5, `${seen.clock.length} clock notifications`);
  for (const { account, context } of seen.clock) {
    assert(account.owner.toBase58() === 'Sysvar1111111111111111111111111111111111111', 'owner');
    const slot = Number(account.data.readBigUInt64LE(0));
    assert(slot === context.slot, `clock says ${slot} at context ${context.slot}`);
  }
  assert(increasing(seen.clock.map((n) => n.context.slot)), 'clock slots not increasing');
});
check('kit slotNotifications and rootNotifications', () => {
  assert(seen.kitSlots.length >= 5, `${seen.kitSlots.length} slots`);
  assert(increasing(seen.kitSlots.map((s) => Number(s.slot))), 'kit slots not increasing');
  assert(seen.kitRoots.length >= 5, `${seen.kitRoots.length} roots`);
});
check('kit accountNotifications Clock', () => {
  assert(seen.kitClock.length >= 5, `${seen.kitClock.length} clock notifications`);
  for (const n of seen.kitClock) {
    const data = Buffer.from(n.value.data[0], 'base64');
    assert(BigInt(data.readBigUInt64LE(0)) === BigInt(n.context.slot), 'kit clock slot');
  }
});
await checkAsync('web3 onProgramAccountChange memcmp agrees with getAccountInfo', async () => {
  assert(seen.program.length >= 1, 'no program notifications');
  const last = new Map();
  for (const { keyed, context } of seen.program) {
    assert(keyed.accountInfo.data.length === 165, 'dataSize filter');
    assert(new web3.PublicKey(keyed.accountInfo.data.subarray(0, 32)).toBase58() === E.mint, 'memcmp filter');
    assert(context.slot <= seen.roots[seen.roots.length - 1], `notified at ${context.slot}, past the last root`);
    last.set(keyed.accountId.toBase58(), keyed.accountInfo);
  }
  let compared = 0;
  for (const [key, notified] of last) {
    const now = await connection.getAccountInfo(new web3.PublicKey(key), 'finalized');
    // A closed account (or one closed and opened again for another mint) is out of the
    // filter and gets no program notification.
    if (now === null || now.data.length !== 165 || new web3.PublicKey(now.data.subarray(0, 32)).toBase58() !== E.mint) continue;
    assert(now.lamports === notified.lamports && now.data.equals(notified.data), `${key} differs from HTTP`);
    compared += 1;
  }
  assert(compared >= 1, 'no notified account left to compare');
});
await checkAsync('web3 onAccountChange token account agrees with getAccountInfo', async () => {
  const now = await connection.getAccountInfo(new web3.PublicKey(E.tokenAccount), 'finalized');
  if (seen.token.length === 0) {
    const same = now === null ? tokenBaseline === null : tokenBaseline !== null && now.lamports === tokenBaseline.lamports && now.data.equals(tokenBaseline.data);
    assert(same, 'no notification although the account changed');
    return;
  }
  const { account } = seen.token[seen.token.length - 1];
  if (now === null) {
    assert(account.lamports === 0 && account.data.length === 0, 'closed account not notified as closed');
    assert(account.owner.toBase58() === '11111111111111111111111111111111', 'closed account owner');
  } else {
    assert(now.lamports === account.lamports && now.data.equals(account.data), 'differs from HTTP');
  }
});

for (const failure of failures) console.log(`FAIL ${failure}`);
console.log(`${passed} passed, ${failures.length} failed`);
process.exit(failures.length === 0 ? 0 : 1);
