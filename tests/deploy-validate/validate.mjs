// Validates Kubernetes manifests (YAML files, several documents each) against schemas:
//   node validate.mjs FILE...
// Built-in kinds and the KEDA, prometheus-operator and Gateway API CRDs through the kubernetes-models packages;
// KServe and the Inference Extension through schemas/*.json (closed subsets of their CRDs, versions cited there), their
// pod and container fields through the Kubernetes Pod model.
// kubernetes-models' validators accept fields they do not know, so a strict pass follows: every field of a built-in
// kind, of every object's metadata, and of the pod and container parts of KServe objects must be a field of the
// Kubernetes API (the models of @kubernetes/client-node, generated from the OpenAPI spec, list each type's fields).
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

// ---- the strict pass: fields against @kubernetes/client-node's models (Kubernetes' OpenAPI spec, type by type)
const models = new Map();
async function model(type) {
  if (!models.has(type)) {
    let found = null;
    try {
      found = (await import(`@kubernetes/client-node/dist/gen/models/${type}.js`))[type] ?? null;
    } catch {
      found = null;
    }
    models.set(type, found);
  }
  return models.get(type);
}

/** The client-node model of a built-in kind: V1Deployment, V2HorizontalPodAutoscaler, ...; null when none. */
async function kindModel(apiVersion, kind) {
  const version = apiVersion.split("/").pop();
  const v = version[0].toUpperCase() + version.slice(1);
  return (await model(`${v}${kind}`)) ? `${v}${kind}` : null;
}

/** Fields of VALUE that TYPE (a client-node type name) does not define, as "path: ..." sentences. */
async function unknownFields(value, type, path, problems) {
  if (value === null || value === undefined) return;
  let m;
  if ((m = /^Array<(.+)>$/.exec(type))) {
    if (Array.isArray(value)) for (const [i, v] of value.entries()) await unknownFields(v, m[1], `${path}[${i}]`, problems);
    return;
  }
  if ((m = /^\{ \[key: string\]: (.+); \}$/.exec(type))) {
    if (typeof value === "object") for (const [k, v] of Object.entries(value)) await unknownFields(v, m[1], `${path}.${k}`, problems);
    return;
  }
  const cls = /^[A-Z]/.test(type) && type !== "IntOrString" && type !== "Date" ? await model(type) : null;
  if (!cls || typeof value !== "object" || Array.isArray(value)) return;
  const fields = new Map(cls.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    if (!fields.has(k)) problems.push(`${path ? path + "." : ""}${k}: unknown field (${type} has no '${k}')`);
    else await unknownFields(v, fields.get(k), `${path ? path + "." : ""}${k}`, problems);
  }
}

/** Runs a check that throws, adding its message to PROBLEMS. */
async function collect(problems, check) {
  try {
    await check();
  } catch (e) {
    problems.push(e.message.split("\n")[0]);
  }
}

/** ajv's errors as "path: message" (an unknown field by its name). */
function ajvProblems(errors) {
  return errors.filter((e) => !["anyOf", "if"].includes(e.keyword)).map((e) => {
    const path = e.instancePath.split("/").slice(1).join(".");
    if (e.keyword === "additionalProperties") return `${path ? path + "." : ""}${e.params.additionalProperty}: unknown field`;
    return `${path || "(root)"}: ${e.message}`;
  });
}

/** The keys of OBJECT that TYPE defines, as a new object. */
async function pick(object, type) {
  const names = new Set((await model(type)).getAttributeTypeMap().map((a) => a.baseName));
  return Object.fromEntries(Object.entries(object ?? {}).filter(([k]) => names.has(k)));
}

/** KServe objects inline pod and container fields: check them as a Pod would be checked. */
async function podParts(doc, problems) {
  let spec, at;
  if (doc.kind === "InferenceService") {
    const predictor = doc.spec?.predictor ?? {};
    spec = await pick(predictor, "V1PodSpec");
    spec.containers = [...(spec.containers ?? [])];
    if (predictor.model) spec.containers.push({ ...(await pick(predictor.model, "V1Container")), name: "kserve-container" });
    at = "spec.predictor";
  } else {
    spec = await pick(doc.spec, "V1PodSpec");
    at = "spec";
  }
  if (!spec.containers?.length) return;
  await collect(problems, () => new Pod({ metadata: { name: "pod-parts" }, spec }).validate());
  await unknownFields(spec, "V1PodSpec", at, problems);
}

/** Every problem of one document, as sentences; none: it is valid. */
async function validate(doc) {
  const problems = [];
  const [group, version] = doc.apiVersion.includes("/") ? doc.apiVersion.split("/") : ["", doc.apiVersion];
  await unknownFields(doc.metadata, "V1ObjectMeta", "metadata", problems);
  if (local[group]) {
    const schema = local[group][doc.kind];
    if (!schema) return [...problems, `no schema for ${doc.apiVersion} ${doc.kind}`];
    const check = ajv.compile(schema);
    if (!check(doc)) problems.push(...ajvProblems(check.errors));
    await podParts(doc, problems);
    return problems;
  }
  const module = group === "" ? `kubernetes-models/v1/${doc.kind}`
    : packages[group] ? `${packages[group]}/${group}/${version}/${doc.kind}`
    : `kubernetes-models/${group}/${version}/${doc.kind}`;
  let Model;
  try {
    Model = (await import(module))[doc.kind];
  } catch {
    return [...problems, `unknown kind ${doc.apiVersion} ${doc.kind}`];
  }
  await collect(problems, () => new Model(doc).validate());
  if (!packages[group]) {
    const type = await kindModel(doc.apiVersion, doc.kind);
    if (!type) return [...problems, `no field list for the built-in kind ${doc.apiVersion} ${doc.kind}`];
    await unknownFields({ ...doc, metadata: undefined }, type, "", problems);
  }
  return problems;
}

let failed = 0;
for (const file of process.argv.slice(2)) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  for (const [i, d] of docs.entries()) {
    if (d.errors.length) { failed++; console.log(`invalid ${file}#${i} yaml: ${d.errors[0].message}`); continue; }
    const doc = d.toJS();
    if (doc == null) continue;
    const what = `${file}#${i} ${doc.kind}/${doc.metadata?.name}`;
    const problems = await validate(doc);
    if (problems.length) {
      failed++;
      console.log(`invalid ${what}: ${problems.join("; ")}`);
    } else {
      console.log(`ok ${what}`);
    }
  }
}
process.exit(failed ? 1 : 0);
