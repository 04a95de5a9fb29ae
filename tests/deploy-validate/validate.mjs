// Validates Kubernetes manifests (YAML files, several documents each) against schemas:
//   node validate.mjs FILE...
// Built-in kinds and the KEDA, prometheus-operator and Gateway API CRDs through the kubernetes-models packages;
// KServe and the Inference Extension through schemas/*.json (containers also against the Kubernetes Container schema).
// Prints "ok FILE#N Kind/name" or "invalid FILE#N Kind/name: why" per document; exit 1 when any is invalid or unknown.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import Ajv from "ajv";

const packages = {
  "keda.sh": "@kubernetes-models/keda",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
  "gateway.networking.k8s.io": "@kubernetes-models/gateway-api",
};
const local = {
  "serving.kserve.io": JSON.parse(readFileSync(new URL("./schemas/serving.kserve.io.json", import.meta.url))),
  "inference.networking.k8s.io": JSON.parse(readFileSync(new URL("./schemas/inference.networking.k8s.io.json", import.meta.url))),
};
const ajv = new Ajv({ allErrors: true, strict: false });
const { Pod } = await import("kubernetes-models/v1/Pod");

async function validate(doc) {
  const [group, version] = doc.apiVersion.includes("/") ? doc.apiVersion.split("/") : ["", doc.apiVersion];
  if (local[group]) {
    const schema = local[group][doc.kind];
    if (!schema) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
    const check = ajv.compile(schema);
    if (!check(doc)) throw new Error(ajv.errorsText(check.errors));
    const containers = doc.spec?.containers ?? [];
    if (containers.length) new Pod({ metadata: { name: "containers" }, spec: { containers } }).validate();
    return;
  }
  const module = group === "" ? `kubernetes-models/v1/${doc.kind}`
    : packages[group] ? `${packages[group]}/${group}/${version}/${doc.kind}`
    : `kubernetes-models/${group}/${version}/${doc.kind}`;
  let Model;
  try {
    Model = (await import(module))[doc.kind];
  } catch {
    throw new Error(`unknown kind ${doc.apiVersion} ${doc.kind}`);
  }
  new Model(doc).validate();
}

let failed = 0;
for (const file of process.argv.slice(2)) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  for (const [i, d] of docs.entries()) {
    if (d.errors.length) { failed++; console.log(`invalid ${file}#${i} yaml: ${d.errors[0].message}`); continue; }
    const doc = d.toJS();
    if (doc == null) continue;
    const what = `${file}#${i} ${doc.kind}/${doc.metadata?.name}`;
    try {
      await validate(doc);
      console.log(`ok ${what}`);
    } catch (e) {
      failed++;
      console.log(`invalid ${what}: ${e.message.split("\n")[0]}`);
    }
  }
}
process.exit(failed ? 1 : 0);
