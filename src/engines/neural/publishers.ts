// Asking each publisher's own service where a model file is and what its digest is, over
// HTTPS, as pip (PyPI's JSON API) and huggingface_hub (the resolve endpoint's X-Linked-Etag)
// do. A download is then checked against that digest, unless this build or the operator
// pinned one.
import type { ModelPublisherService } from '../../config.js';
import type { GithubReleaseSource, HuggingFaceSource, ModelSource, PypiSource } from './catalog.js';

export type PublisherEndpoints = Record<ModelPublisherService, string>;

/** A digest someone vouches for: a sha256, or the git blob sha1 Hugging Face states for files kept outside LFS. */
export interface Digest {
  algorithm: 'sha256' | 'git-blob-sha1';
  hex: string;
  vouchedBy: string;
}

export interface ResolvedFile {
  name: string;
  url: string;
  size: number | null;
  digest: Digest | null;
}

export interface ResolvedSource {
  /** Says which publisher and which repository or release, for the user and the manifest. */
  label: string;
  files: ResolvedFile[];
  /** Set when the publisher's service did not answer: the files' addresses are known, their digests are not. */
  unanswered: PublisherError | null;
}

/**
 * Why a source could not serve. `unreachable` (no connection), `rate-limited` and `unavailable`
 * (HTTP 5xx, a cut transfer) may pass if tried later; `refused` (not found) and `unvouched`
 * (the publisher states no digest) will not.
 */
export class PublisherError extends Error {
  constructor(
    message: string,
    readonly kind: 'unreachable' | 'rate-limited' | 'unavailable' | 'refused' | 'unvouched',
    readonly host: string,
    /** True when, whatever else went wrong, no digest could be had for a file (so --sha256 would help). */
    readonly nothingVouches = kind === 'unvouched',
  ) {
    super(message);
  }
}

/**
 * Fetches `url`, giving up if no answer has begun within `timeoutMs`. The limit is on the wait
 * for the response's head only: a large body may take as long as it needs, and a stalled one
 * is cut by undici's own body timeout.
 */
export async function ask(url: string, init: RequestInit = {}, timeoutMs = 20_000): Promise<Response> {
  const host = new URL(url).host;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
  try {
    return await fetch(url, { ...init, headers: { 'user-agent': 'timbre (models pull)', ...init.headers }, signal: controller.signal });
  } catch (error) {
    const cause = (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message;
    throw new PublisherError(`cannot reach ${host} (${cause})`, 'unreachable', host);
  } finally {
    clearTimeout(timer);
  }
}

function rateLimitReset(response: Response): Date | null {
  const reset = Number(response.headers.get('x-ratelimit-reset') ?? NaN);
  if (Number.isFinite(reset)) return new Date(reset * 1000);
  const retryAfter = Number(response.headers.get('retry-after') ?? NaN);
  if (Number.isFinite(retryAfter)) return new Date(Date.now() + retryAfter * 1000);
  return null;
}

/** Turns a refusal of the publisher's API into a PublisherError that says what to do. */
function answerProblem(response: Response, what: string): PublisherError | null {
  const host = new URL(response.url).host;
  if (response.ok || (response.status >= 300 && response.status < 400)) return null;
  const limited = response.status === 429 || (response.status === 403 && response.headers.get('x-ratelimit-remaining') === '0');
  if (limited) {
    const reset = rateLimitReset(response);
    const when = reset ? `until ${reset.toISOString()} (in ${Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 60_000))} min)` : 'for now';
    return new PublisherError(`${host} is rate-limiting this machine's requests ${when}; run the same command again after that`, 'rate-limited', host);
  }
  if (response.status >= 500) return new PublisherError(`${host} answered HTTP ${response.status} for ${what}`, 'unavailable', host);
  return new PublisherError(`${host} answered HTTP ${response.status} for ${what}`, 'refused', host);
}

function sha256From(value: string | null | undefined): string | null {
  const match = /^(?:sha256:)?([0-9a-f]{64})$/i.exec(value ?? '');
  return match ? match[1]!.toLowerCase() : null;
}

interface GithubRelease {
  assets?: { name?: string; browser_download_url?: string; size?: number; digest?: string | null }[];
}

/** GitHub's release API lists each asset with `digest: "sha256:<hex>"` (null for assets uploaded before it did). */
async function resolveGithub(source: GithubReleaseSource, endpoints: PublisherEndpoints): Promise<ResolvedSource> {
  const apiHost = new URL(endpoints['github-api']).host;
  const tags = [...new Set(source.assets.map((asset) => asset.tag))];
  const fallback = (asset: { tag: string; name: string }): ResolvedFile => ({
    name: asset.name,
    url: `${endpoints.github}/${source.repo}/releases/download/${asset.tag}/${asset.name}`,
    size: null,
    digest: null,
  });
  const label = `GitHub release ${source.repo} ${tags.join(', ')}`;
  const releases = new Map<string, GithubRelease>();
  try {
    for (const tag of tags) {
      const response = await ask(`${endpoints['github-api']}/repos/${source.repo}/releases/tags/${tag}`, {
        headers: { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' },
      });
      const problem = answerProblem(response, `the release ${source.repo} ${tag}`);
      if (problem) throw problem;
      releases.set(tag, (await response.json()) as GithubRelease);
    }
  } catch (error) {
    if (!(error instanceof PublisherError)) throw new PublisherError(`${apiHost} answered the release API with something other than JSON`, 'unavailable', apiHost);
    if (error.kind === 'refused') throw error;
    return { label, files: source.assets.map(fallback), unanswered: error };
  }
  const files = source.assets.map((asset): ResolvedFile => {
    const listed = releases.get(asset.tag)?.assets?.find((entry) => entry.name === asset.name);
    if (!listed?.browser_download_url) throw new PublisherError(`${apiHost}: the release ${source.repo} ${asset.tag} has no asset ${asset.name}`, 'refused', apiHost);
    const sha256 = sha256From(listed.digest);
    return {
      name: asset.name,
      url: listed.browser_download_url,
      size: typeof listed.size === 'number' ? listed.size : null,
      digest: sha256 ? { algorithm: 'sha256', hex: sha256, vouchedBy: `${apiHost} release API (${source.repo} ${asset.tag})` } : null,
    };
  });
  return { label, files, unanswered: null };
}

/**
 * Hugging Face's resolve endpoint answers a HEAD with the LFS object's sha256 in X-Linked-Etag
 * (and its size in X-Linked-Size) before redirecting to its file host; a file kept in git
 * itself gets its git blob sha1 as the ETag instead.
 */
async function resolveHuggingFace(source: HuggingFaceSource, endpoints: PublisherEndpoints): Promise<ResolvedSource> {
  const host = new URL(endpoints.huggingface).host;
  const label = `Hugging Face ${source.repo}@${source.revision}`;
  const urlOf = (name: string) => `${endpoints.huggingface}/${source.repo}/resolve/${source.revision}/${name}`;
  const files: ResolvedFile[] = [];
  try {
    for (const name of source.files) {
      const response = await ask(urlOf(name), { method: 'HEAD', redirect: 'manual' });
      const problem = answerProblem(response, `${source.repo}/${name}`);
      if (problem) throw problem;
      const unquote = (value: string | null) => (value ?? '').replace(/^W\//, '').replace(/"/g, '');
      const lfs = sha256From(unquote(response.headers.get('x-linked-etag')));
      const etag = unquote(response.headers.get('etag'));
      const size = Number(response.headers.get('x-linked-size') ?? response.headers.get('content-length') ?? NaN);
      const digest: Digest | null = lfs
        ? { algorithm: 'sha256', hex: lfs, vouchedBy: `${host} X-Linked-Etag (LFS sha256 of ${source.repo}/${name})` }
        : /^[0-9a-f]{40}$/i.test(etag)
          ? { algorithm: 'git-blob-sha1', hex: etag.toLowerCase(), vouchedBy: `${host} ETag (git blob sha1 of ${source.repo}/${name})` }
          : null;
      files.push({ name, url: urlOf(name), size: Number.isFinite(size) ? size : null, digest });
    }
  } catch (error) {
    if (!(error instanceof PublisherError) || error.kind === 'refused') throw error;
    return { label, files: source.files.map((name) => ({ name, url: urlOf(name), size: null, digest: null })), unanswered: error };
  }
  return { label, files, unanswered: null };
}

interface PypiListing {
  filename?: string;
  url?: string;
  size?: number;
  sha256?: string;
}

/** PyPI's JSON API (`/pypi/<name>/<version>/json`): each file of a release with `digests.sha256`. */
async function pypiJsonApi(source: PypiSource, endpoints: PublisherEndpoints): Promise<PypiListing[]> {
  const response = await ask(`${endpoints.pypi}/pypi/${source.project}/${source.version}/json`, { headers: { accept: 'application/json' } });
  const problem = answerProblem(response, `${source.project} ${source.version} (JSON API)`);
  if (problem) throw problem;
  const release = (await response.json()) as { urls?: { filename?: string; url?: string; size?: number; digests?: { sha256?: string } }[] };
  return (release.urls ?? []).map((file) => ({ filename: file.filename, url: file.url, size: file.size, sha256: file.digests?.sha256 }));
}

/** PyPI's simple index in its JSON form (PEP 691), which pip reads: each file with `hashes.sha256`. */
async function pypiSimpleIndex(source: PypiSource, endpoints: PublisherEndpoints): Promise<PypiListing[]> {
  const response = await ask(`${endpoints.pypi}/simple/${source.project}/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
  const problem = answerProblem(response, `${source.project} (simple index)`);
  if (problem) throw problem;
  const index = (await response.json()) as { files?: { filename?: string; url?: string; size?: number; hashes?: { sha256?: string } }[] };
  return (index.files ?? []).map((file) => ({ filename: file.filename, url: file.url, size: file.size, sha256: file.hashes?.sha256 }));
}

/**
 * PyPI states each file's sha256 in its JSON API and in its simple index (the one pip reads);
 * the JSON API is asked first, the simple index when it does not answer (some mirrors and
 * proxies serve only the index and the files).
 */
async function resolvePypi(source: PypiSource, endpoints: PublisherEndpoints): Promise<ResolvedSource> {
  const host = new URL(endpoints.pypi).host;
  const label = `PyPI ${source.project} ${source.version}`;
  let listings: PypiListing[] | null = null;
  let vouchedBy = '';
  const failures: PublisherError[] = [];
  for (const [read, what] of [
    [pypiJsonApi, 'JSON API'],
    [pypiSimpleIndex, 'simple index'],
  ] as const) {
    try {
      listings = await read(source, endpoints);
      vouchedBy = `${host} ${what} (${source.project} ${source.version})`;
      break;
    } catch (error) {
      failures.push(error instanceof PublisherError ? error : new PublisherError(`${host} answered its ${what} with something other than JSON`, 'unavailable', host));
    }
  }
  if (!listings) {
    // Neither answered: the files' addresses are known; a pin can still vouch for them.
    const worst = failures.find((failure) => failure.kind !== 'refused') ?? failures[0]!;
    const unanswered = new PublisherError(failures.map((failure) => failure.message).join('; '), worst.kind === 'refused' ? 'unavailable' : worst.kind, host);
    return { label, files: source.files.map((file) => ({ name: file.name, url: file.url, size: null, digest: null })), unanswered };
  }
  const files = source.files.map((file): ResolvedFile => {
    const listed = listings!.find((entry) => entry.filename === file.name);
    if (!listed?.url) throw new PublisherError(`${host}: ${source.project} ${source.version} has no file ${file.name}`, 'refused', host);
    const sha256 = sha256From(listed.sha256);
    return {
      name: file.name,
      url: listed.url,
      size: typeof listed.size === 'number' ? listed.size : null,
      digest: sha256 ? { algorithm: 'sha256', hex: sha256, vouchedBy } : null,
    };
  });
  return { label, files, unanswered: null };
}

/** Where each file of `source` is and, if its publisher states one, its digest. */
export function resolveSource(source: ModelSource, endpoints: PublisherEndpoints): Promise<ResolvedSource> {
  switch (source.publisher) {
    case 'github':
      return resolveGithub(source, endpoints);
    case 'huggingface':
      return resolveHuggingFace(source, endpoints);
    case 'pypi':
      return resolvePypi(source, endpoints);
  }
}
