// Every table Timbre keeps, typed once; every query is checked against this.
export interface AccountsTable {
  id: string;
  name: string;
  created_at: number;
}

export interface ApiKeysTable {
  id: string;
  account_id: string;
  /** sha256 of the key: keys are 190-bit random strings, so a fast hash is enough. */
  key_hash: string;
  /** The first characters of the key, shown in listings so a person can tell keys apart. */
  key_prefix: string;
  created_at: number;
  revoked_at: number | null;
}

export interface VoicesTable {
  name: string;
  account_id: string;
  preferred_name: string;
  target_model: string;
  language: string | null;
  reference_text: string | null;
  created_at: number;
  modified_at: number;
  last_used_at: number;
  speech_seconds: number;
  fallback_reason: string | null;
  original_blob: string;
  original_mediatype: string;
  reference_blob: string;
  reference_sample_rate: number;
  voice_prompt: string | null;
  consent: string | null;
}

export interface UsageLedgerTable {
  id: string;
  account_id: string;
  kind: string;
  count: number;
  voice: string | null;
  at: number;
}

export interface GeneratedAudioTable {
  id: string;
  account_id: string;
  blob: string;
  created_at: number;
  expires_at: number;
}

export interface VoiceAuditTable {
  id: string;
  account_id: string;
  voice: string;
  event: string;
  actor: string;
  at: number;
  consent: string | null;
}

export interface BlobsTable {
  key: string;
  bytes: Buffer;
  created_at: number;
}

export interface ServerSettingsTable {
  name: string;
  value: string;
}

export interface Database {
  accounts: AccountsTable;
  api_keys: ApiKeysTable;
  voices: VoicesTable;
  usage_ledger: UsageLedgerTable;
  generated_audio: GeneratedAudioTable;
  server_settings: ServerSettingsTable;
  voice_audit: VoiceAuditTable;
  blobs: BlobsTable;
}
