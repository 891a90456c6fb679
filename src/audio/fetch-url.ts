import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { TooLarge, UrlRejected } from '../errors.js';

export interface FetchPolicy {
  /** Ranges that may be reached although not public, e.g. ['127.0.0.1/32'] in tests. */
  allowCidrs: string[];
  timeoutMs: number;
  maxBytes: number;
  maxRedirects?: number;
}

export interface FetchedAudio {
  bytes: Buffer;
  contentType: string | null;
  finalUrl: string;
}

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

function parseCidrs(cidrs: string[]): Cidr[] {
  return cidrs.map((cidr) => (cidr.includes('/') ? ipaddr.parseCIDR(cidr) : ([ipaddr.parse(cidr), ipaddr.parse(cidr).kind() === 'ipv4' ? 32 : 128] as Cidr)));
}

/** Why an address may not be fetched, or null when it may. Only global unicast is allowed. */
export function forbiddenReason(address: string, allowed: Cidr[]): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  for (const [range, bits] of allowed) {
    if (range.kind() === parsed.kind() && parsed.match(range, bits)) return null;
  }
  const range = parsed.range();
  return range === 'unicast' ? null : `${address} is a ${range} address`;
}

/**
 * Downloads an audio URL for enrollment. Hand-written over node:http because the checks
 * must sit at connect time: the address every hop actually connects to (after DNS, after
 * each redirect) is vetted, so DNS rebinding and redirects into private ranges are refused.
 */
export async function fetchAudioUrl(url: URL, policy: FetchPolicy): Promise<FetchedAudio> {
  const allowed = parseCidrs(policy.allowCidrs);
  const deadline = AbortSignal.timeout(policy.timeoutMs);
  let current = url;
  for (let hop = 0; hop <= (policy.maxRedirects ?? 5); hop += 1) {
    const response = await openOnce(current, allowed, deadline);
    const status = response.statusCode ?? 0;
    if (status >= 300 && status < 400 && response.headers.location) {
      response.resume();
      let next: URL;
      try {
        next = new URL(response.headers.location, current);
      } catch {
        throw new UrlRejected(`audio URL redirected to an invalid location`);
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new UrlRejected(`audio URL redirected to scheme ${next.protocol.replace(':', '')}; only http and https are followed`);
      }
      current = next;
      continue;
    }
    if (status !== 200) {
      response.resume();
      throw new UrlRejected(`audio URL answered HTTP ${status}; it must answer 200 without authentication`);
    }
    const bytes = await readCapped(response, policy.maxBytes, deadline);
    return { bytes, contentType: response.headers['content-type'] ?? null, finalUrl: current.toString() };
  }
  throw new UrlRejected(`audio URL redirected more than ${policy.maxRedirects ?? 5} times`);
}

function openOnce(url: URL, allowed: Cidr[], signal: AbortSignal): Promise<IncomingMessage> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const reason = forbiddenReason(host, allowed);
    if (reason) return Promise.reject(new UrlRejected(`audio URL is not public: ${reason}`));
  }
  const vettedLookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(new UrlRejected(`audio URL host ${hostname} could not be resolved`), '', 0);
      for (const entry of addresses) {
        const reason = forbiddenReason(entry.address, allowed);
        if (reason) return callback(new UrlRejected(`audio URL is not public: ${hostname} resolves to ${reason}`), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new UrlRejected(`audio URL host ${hostname} has no address`), '', 0);
      return callback(null, first.address, first.family);
    });
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(url, { method: 'GET', lookup: vettedLookup, signal, headers: { 'user-agent': 'Timbre/0.1 (voice enrollment)', accept: 'audio/*' } }, resolve);
    request.on('error', (error) => {
      if (error instanceof UrlRejected) reject(error);
      else if (signal.aborted) reject(new UrlRejected(`audio URL did not finish downloading in time`));
      else reject(new UrlRejected(`audio URL could not be fetched: ${error.message}`));
    });
    request.end();
  });
}

async function readCapped(response: IncomingMessage, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.destroy();
    throw new TooLarge(`audio URL declares ${declared} bytes; the limit is ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let received = 0;
  try {
    for await (const chunk of response) {
      const piece = chunk as Buffer;
      received += piece.length;
      if (received > maxBytes) {
        response.destroy();
        throw new TooLarge(`audio URL sent more than ${maxBytes} bytes; the limit is ${maxBytes} bytes`);
      }
      chunks.push(piece);
    }
  } catch (error) {
    if (error instanceof TooLarge) throw error;
    if (signal.aborted) throw new UrlRejected(`audio URL did not finish downloading in time`);
    throw new UrlRejected(`audio URL download broke off: ${(error as Error).message}`);
  }
  return Buffer.concat(chunks);
}
