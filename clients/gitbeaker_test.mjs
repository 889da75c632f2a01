// gitbeaker (@gitbeaker/rest) against the jobartifacts example server.
//
// Runs the JobArtifacts API of gitbeaker against a server started by run.sh
// (the demo data plus job 60 of special_entries.txt) and checks the bytes.
// gitbeaker escapes every path segment value with encodeURIComponent: the
// project id, the ref, and on the ref route the artifact path too, "/"
// included (dir%2Fsub%20dir%2Ffile%2B1.txt); the server decodes it once.
// Environment: as python_gitlab_test.py.
//
// Prints one line per check and a final "N passed, M failed"; exits 1 on failure.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { inflateRawSync } from "node:zlib";
import { Gitlab, GitbeakerRequestError } from "@gitbeaker/rest";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const URL_ = env("GITLAB_URL");
const TOKEN = env("GITLAB_TOKEN");
const JOB_TOKEN = env("GITLAB_JOB_TOKEN");
const SPECIAL_JOB_ID = Number(env("SPECIAL_JOB_ID"));
const SPECIAL_REF = env("SPECIAL_REF");
const SPECIAL_JOB = env("SPECIAL_JOB");
const SPECIAL_ENTRIES = readFileSync(env("SPECIAL_ENTRIES"), "utf8").split("\n").filter((l) => l.trim() !== "");
const PDF_PATH = "some/release/file.pdf";

const results = { passed: 0, failed: 0 };

async function check(name, fn) {
  try {
    await fn();
    results.passed++;
    console.log(`ok   ${name}`);
  } catch (err) {
    results.failed++;
    console.log(`FAIL ${name}\n  ${err?.stack ?? err}`);
  }
}

// bytesOf turns what gitbeaker returns for a download into a Buffer: a Blob
// for binary types, a string for text/* (it decodes those itself).
async function bytesOf(body) {
  if (typeof body === "string") return Buffer.from(body, "utf8");
  if (body instanceof Blob) return Buffer.from(await body.arrayBuffer());
  throw new Error(`unexpected download body ${typeof body}`);
}

// zipFiles maps each file entry of a zip to its bytes, read from the central
// directory (stored and deflated entries, as the server's archives are).
function zipFiles(buf) {
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  assert.ok(eocd >= 0, "not a zip: no end of central directory");
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const files = new Map();
  for (let i = 0; i < count; i++) {
    assert.equal(buf.readUInt32LE(p), 0x02014b50, "bad central directory entry");
    const method = buf.readUInt16LE(p + 10);
    const compressedSize = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const localOffset = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString("utf8");
    p += 46 + nameLen + extraLen + commentLen;
    if (name.endsWith("/")) continue;
    const dataStart = localOffset + 30 + buf.readUInt16LE(localOffset + 26) + buf.readUInt16LE(localOffset + 28);
    const data = buf.subarray(dataStart, dataStart + compressedSize);
    if (method === 0) files.set(name, Buffer.from(data));
    else if (method === 8) files.set(name, inflateRawSync(data));
    else throw new Error(`${name}: compression method ${method}`);
  }
  return files;
}

async function expectStatus(status, fn) {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof GitbeakerRequestError, `got ${err}`);
    assert.equal(err.cause.response.status, status, `status of ${err.cause.request.url}`);
    return err;
  }
  throw new Error(`no error, want ${status}`);
}

const clients = {
  "PRIVATE-TOKEN": new Gitlab({ host: URL_, token: TOKEN }),
  "JOB-TOKEN": new Gitlab({ host: URL_, jobToken: JOB_TOKEN }),
  "OAuth Bearer": new Gitlab({ host: URL_, oauthToken: TOKEN }),
};

async function readChecks(label, api, project) {
  const A = api.JobArtifacts;
  const byJob = async (jobId, artifactPath) => bytesOf(await A.downloadArchive(project, { jobId, artifactPath }));
  const byRef = async (ref, job, artifactPath, extra = {}) =>
    bytesOf(await A.downloadArchive(project, { ref, job, artifactPath, ...extra }));

  await check(`${label}: downloadArchive and downloadArchive(artifactPath) by job for every entry of job 42`, async () => {
    const files = zipFiles(await byJob(42));
    assert.ok(files.size > 0, "job 42's archive has no files");
    for (const [name, content] of files) assert.deepEqual(await byJob(42, name), content, name);
  });
  await check(`${label}: downloadArchive by ref on master and main`, async () => {
    assert.deepEqual(await byRef("master", "test"), await byJob(42));
    assert.deepEqual(await byRef("main", "test"), await byJob(43));
  });
  await check(`${label}: downloadArchive by ref with search_recent_successful_pipelines`, async () => {
    assert.deepEqual(await byRef("master", "test", undefined, { searchRecentSuccessfulPipelines: true }), await byJob(42));
  });
  await check(`${label}: ${PDF_PATH} by job 5 and by ref master (path sent as some%2Frelease%2Ffile.pdf)`, async () => {
    const pdf = await byJob(5, PDF_PATH);
    assert.equal(pdf.subarray(0, 5).toString(), "%PDF-");
    assert.deepEqual(pdf, zipFiles(await byJob(5)).get(PDF_PATH));
    assert.deepEqual(await byRef("master", "pdf", PDF_PATH), pdf);
  });
  await check(`${label}: spaces, '+', unicode, '/raw/', '%' in paths (job ${SPECIAL_JOB_ID}, ref ${SPECIAL_REF})`, async () => {
    const files = zipFiles(await byJob(SPECIAL_JOB_ID));
    assert.deepEqual([...files.keys()].sort(), [...SPECIAL_ENTRIES].sort());
    for (const name of SPECIAL_ENTRIES) {
      const want = Buffer.from(`content of ${name}\n`, "utf8");
      if (name.includes("%")) {
        // gitbeaker puts the path of the job route into the URL unescaped:
        // a bare "%" is not a valid escape, so the server answers 400, as
        // GitLab does (clients/README.md). The ref route escapes it.
        await expectStatus(400, () => byJob(SPECIAL_JOB_ID, name));
      } else {
        assert.deepEqual(await byJob(SPECIAL_JOB_ID, name), want, `by job: ${name}`);
      }
      assert.deepEqual(await byRef(SPECIAL_REF, SPECIAL_JOB, name), want, `by ref: ${name}`);
    }
    assert.deepEqual(await byRef(SPECIAL_REF, SPECIAL_JOB), await byJob(SPECIAL_JOB_ID));
  });
  await check(`${label}: missing job, entry and ref are 404`, async () => {
    await expectStatus(404, () => byJob(999));
    await expectStatus(404, () => byJob(42, "no/such file.txt"));
    await expectStatus(404, () => byRef("no-such-ref", "test"));
    await expectStatus(404, () => byRef("master", "test", "absent.txt"));
  });
}

async function authChecks() {
  await check("unknown token is 401", async () => {
    const api = new Gitlab({ host: URL_, token: "glpat-not-a-token" });
    const err = await expectStatus(401, () => api.JobArtifacts.downloadArchive(1, { jobId: 42 }));
    assert.equal(err.cause.description, "401 Unauthorized");
  });
  await check("job token cannot keep or delete: 401", async () => {
    const A = clients["JOB-TOKEN"].JobArtifacts;
    await expectStatus(401, () => A.keep(1, 1));
    await expectStatus(401, () => A.remove(1, { jobId: 1 }));
    await expectStatus(401, () => A.remove(1));
  });
}

async function writeChecks(api) {
  const A = api.JobArtifacts;
  const project = "demo/project";
  await check("keep returns GitLab's Job entity", async () => {
    const job = await A.keep(project, 1);
    assert.equal(job.id, 1);
    assert.equal(job.name, "rubocop");
    assert.equal(job.status, "failed");
    assert.equal(job.failure_reason, "script_failure");
    assert.equal(job.artifacts_expire_at, null);
    assert.deepEqual(job.artifacts_file, { filename: "artifacts.zip", size: job.artifacts_file.size });
    assert.equal(job.commit.id, "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd");
    assert.equal(job.pipeline.ref, "master");
  });
  await check("remove({jobId}): then 404; again still fine", async () => {
    await A.remove(project, { jobId: 42 });
    await expectStatus(404, () => A.downloadArchive(project, { jobId: 42 }));
    await A.remove(project, { jobId: 42 });
  });
  await check("remove(project): unkept files expire, kept ones stay", async () => {
    await A.remove(project);
    await expectStatus(404, () => A.downloadArchive(project, { jobId: 5, artifactPath: PDF_PATH }));
    // Served as application/json, which gitbeaker parses for us.
    const kept = await A.downloadArchive(project, { jobId: 1, artifactPath: "rubocop.json" });
    assert.equal(kept.summary.offense_count, 1);
  });
}

for (const [name, api] of Object.entries(clients)) {
  await readChecks(`${name} numeric id`, api, 1);
  await readChecks(`${name} path id`, api, "demo/project");
}
await authChecks();
await writeChecks(clients["PRIVATE-TOKEN"]);
console.log(`${results.passed} passed, ${results.failed} failed`);
process.exitCode = results.failed ? 1 : 0;
