// The official `openai` npm package against a running `sluice serve`: completions and chat, whole and
// streamed, and an error. Usage: node client.mjs BASE_URL API_KEY. Prints one line per check; exits 1 on
// the first failure.
import OpenAI from 'openai';

const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 });

function check(condition, what) {
  if (!condition) {
    throw new Error(`check failed: ${what}`);
  }
  console.log(`ok: ${what}`);
}

const models = await client.models.list();
const model = models.data[0].id;
check(models.data.length >= 1 && typeof model === 'string', 'models.list names the served model');

const completion = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 5, temperature: 0 });
check(typeof completion.choices[0].text === 'string' && completion.choices[0].text.length > 0, 'completions.create returns text');
check(completion.usage.completion_tokens === 5 && completion.choices[0].finish_reason === 'length', 'completions usage and finish_reason');

let streamed = '';
let finish = null;
const cstream = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 5, temperature: 0, stream: true });
for await (const chunk of cstream) {
  for (const c of chunk.choices) {
    streamed += c.text;
    finish = c.finish_reason ?? finish;
  }
}
check(streamed === completion.choices[0].text, 'streamed completion equals the whole one (greedy)');
check(finish === 'length', 'streamed completion ends with finish_reason');

const chat = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 4, temperature: 0, seed: 1 });
check(chat.choices[0].message.role === 'assistant' && typeof chat.choices[0].message.content === 'string', 'chat.completions.create returns an assistant message');
check(chat.usage.completion_tokens === 4, 'chat usage counts the completion tokens');

let content = '';
let role = null;
let usage = null;
const sstream = await client.chat.completions.create({
  model, messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 4, temperature: 0, seed: 1, stream: true, stream_options: { include_usage: true },
});
for await (const chunk of sstream) {
  if (chunk.usage) {
    usage = chunk.usage;
  }
  for (const c of chunk.choices) {
    role = c.delta.role ?? role;
    content += c.delta.content ?? '';
  }
}
check(role === 'assistant', 'chat stream starts with the assistant role');
check(content === chat.choices[0].message.content, 'streamed chat equals the whole one (greedy)');
check(usage !== null && usage.completion_tokens === 4, 'stream_options.include_usage sends usage last');

try {
  await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'Hi' }] });
  check(false, 'an unknown model is refused');
} catch (err) {
  check(err instanceof OpenAI.NotFoundError && err.status === 404, 'an unknown model is a NotFoundError (404)');
}
console.log('node client: all checks passed');
