// The official `openai` npm package against a running `sluice serve`: completions and chat, whole and
// streamed, tools (forced and auto), structured outputs, the Responses API, embeddings, and an error. Usage: node client.mjs BASE_URL API_KEY. Prints one line per check; exits 1 on
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

// tools: a forced call names an offered function with valid arguments; its stream reassembles into it
const tools = [
  { type: 'function', function: { name: 'get_time', description: 'The time', parameters: { type: 'object', properties: { utc: { type: 'boolean' } }, required: ['utc'], additionalProperties: false } } },
  { type: 'function', function: { name: 'get_day', description: 'The day', parameters: { type: 'object', properties: { offset: { enum: [0, 1] } }, required: ['offset'], additionalProperties: false } } },
];
const toolRequest = { model, messages: [{ role: 'user', content: 'What time is it?' }], tools, tool_choice: 'required', max_tokens: 120, seed: 2 };
const forced = await client.chat.completions.create(toolRequest);
const call = forced.choices[0].message.tool_calls?.[0];
check(forced.choices[0].finish_reason === 'tool_calls' && call?.type === 'function', 'tool_choice required answers with tool_calls');
const args = JSON.parse(call.function.arguments);
check((call.function.name === 'get_time' && typeof args.utc === 'boolean') || (call.function.name === 'get_day' && [0, 1].includes(args.offset)),
  'the call names an offered function with schema-valid arguments');
const calls = [];
let toolFinish = null;
for await (const chunk of await client.chat.completions.create({ ...toolRequest, stream: true })) {
  for (const c of chunk.choices) {
    toolFinish = c.finish_reason ?? toolFinish;
    for (const d of c.delta.tool_calls ?? []) {
      calls[d.index] ??= { id: d.id, name: d.function?.name, arguments: '' };
      calls[d.index].arguments += d.function?.arguments ?? '';
    }
  }
}
check(toolFinish === 'tool_calls' && calls.length === 1 && typeof calls[0].id === 'string' && calls[0].name === call.function.name
  && calls[0].arguments === call.function.arguments, 'a streamed call reassembles into the whole one');

// tool_choice auto with a call and its result in the history: whole and streamed agree
const autoRequest = {
  model, tools, max_tokens: 16, seed: 4,
  messages: [{ role: 'user', content: 'Time?' }, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: 'noon' }],
};
const auto = await client.chat.completions.create(autoRequest);
let autoContent = '';
for await (const chunk of await client.chat.completions.create({ ...autoRequest, stream: true })) {
  for (const c of chunk.choices) {
    autoContent += c.delta.content ?? '';
  }
}
check((auto.choices[0].message.content ?? '') === autoContent, 'tool_choice auto: the stream equals the whole answer');

// structured outputs: json_schema holds even on random weights
const schema = { type: 'object', properties: { city: { enum: ['Oslo', 'Paris', 'Rome'] }, warm: { type: 'boolean' } }, required: ['city', 'warm'], additionalProperties: false };
const structured = await client.chat.completions.create({
  model, messages: [{ role: 'user', content: 'A city?' }], max_tokens: 200, seed: 3,
  response_format: { type: 'json_schema', json_schema: { name: 'city', schema, strict: true } },
});
const parsed = JSON.parse(structured.choices[0].message.content);
check(['Oslo', 'Paris', 'Rome'].includes(parsed.city) && typeof parsed.warm === 'boolean' && Object.keys(parsed).length === 2,
  'response_format json_schema: the answer validates against the schema');

// the Responses API: text, streamed events reassembling into the response, structured output, a forced call
const response = await client.responses.create({ model, instructions: 'Be brief.', input: 'Hello!', max_output_tokens: 6, temperature: 0 });
check(response.object === 'response' && response.status === 'incomplete' && typeof response.output_text === 'string'
  && response.usage.output_tokens === 6, 'responses.create answers with output_text and usage');
let streamedText = '';
let completed = null;
const types = [];
for await (const event of await client.responses.create({ model, instructions: 'Be brief.', input: 'Hello!', max_output_tokens: 6, temperature: 0, stream: true })) {
  types.push(event.type);
  if (event.type === 'response.output_text.delta') {
    streamedText += event.delta;
  }
  if (event.type === 'response.completed' || event.type === 'response.incomplete') {
    completed = event.response;
  }
}
check(types[0] === 'response.created' && types.includes('response.output_item.added') && types.includes('response.output_text.done'),
  'a responses stream sends OpenAI\'s events');
check(streamedText === response.output_text && completed?.output[0]?.content[0]?.text === response.output_text, 'a responses stream reassembles into the response');
const typed = await client.responses.create({
  model, input: 'A city?', max_output_tokens: 200, temperature: 0.7,
  text: { format: { type: 'json_schema', name: 'city', schema, strict: true } },
});
const typedParsed = JSON.parse(typed.output_text);
check(['Oslo', 'Paris', 'Rome'].includes(typedParsed.city) && typeof typedParsed.warm === 'boolean', 'responses text.format json_schema validates');
const responseTools = tools.map((t) => ({ type: 'function', ...t.function }));
const called = await client.responses.create({ model, input: 'What time is it?', tools: responseTools, tool_choice: 'required', max_output_tokens: 120 });
const fc = called.output.find((o) => o.type === 'function_call');
check(fc !== undefined && ['get_time', 'get_day'].includes(fc.name) && typeof JSON.parse(fc.arguments) === 'object', 'responses tool_choice required makes a function_call item');
const followUp = await client.responses.create({
  model, tools: responseTools, max_output_tokens: 8,
  input: [{ role: 'user', content: 'What time is it?' }, fc, { type: 'function_call_output', call_id: fc.call_id, output: 'noon' }],
});
check(followUp.status === 'completed' || followUp.status === 'incomplete', 'responses takes function_call and function_call_output items back');

// embeddings: the package asks for base64 unless told otherwise and decodes it; both encodings give the same vectors
const embedded = await client.embeddings.create({ model, input: ['In the beginning', 'God created the heaven'] });
check(embedded.data.length === 2 && embedded.data[1].index === 1 && Array.isArray(embedded.data[0].embedding), 'embeddings.create returns one vector per input');
const norm = Math.sqrt(embedded.data[0].embedding.reduce((a, x) => a + x * x, 0));
check(Math.abs(norm - 1) < 1e-4, 'embeddings are L2-normalized');
check(embedded.usage.prompt_tokens > 0 && embedded.usage.total_tokens === embedded.usage.prompt_tokens, 'embeddings usage counts the input tokens');
const asFloats = await client.embeddings.create({ model, input: 'In the beginning', encoding_format: 'float' });
check(asFloats.data[0].embedding.every((x, i) => Math.abs(x - embedded.data[0].embedding[i]) < 1e-6), 'float and base64 embeddings agree');

try {
  await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'Hi' }] });
  check(false, 'an unknown model is refused');
} catch (err) {
  check(err instanceof OpenAI.NotFoundError && err.status === 404, 'an unknown model is a NotFoundError (404)');
}
console.log('node client: all checks passed');
