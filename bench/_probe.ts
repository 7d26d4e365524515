import { benchColdStart } from './cold-start.js';
const r = await benchColdStart({ runs: 3 });
console.log(r.summary.join('\n'));
console.log(JSON.stringify(r.figures, null, 1).slice(0, 4000));
