// Types of scripts/build.mjs for the TypeScript that imports it (benchmarks).
export declare const root: string;
export declare function ensureCli(): Promise<string>;
export declare function buildCli(options?: { quiet?: boolean }): Promise<unknown>;
export declare function buildWorker(): Promise<void>;
