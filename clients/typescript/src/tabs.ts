/**
 * One refresh across the tabs of an app: a Web Lock around the refresh, a
 * BroadcastChannel to hand its result (or the end of the session) to the other tabs.
 *
 * Either API may be missing (an old browser, a test, a worker without
 * locks): without locks each tab refreshes on its own, which the server's
 * reuse grace keeps safe; without a channel a tab learns about a refresh or a
 * sign-out elsewhere at its own next refresh. Nothing here touches storage.
 */
import type { RefreshRefusedCode } from "./contract.js";

/** Why a session ended: the API's code (one a refresh's 401 can give), or `SIGNED_OUT` when another tab signed out. */
export type SessionEndedReason = RefreshRefusedCode | "SIGNED_OUT";

/** What one tab tells the others. */
export type TabMessage =
  { type: "token"; accessToken: string; expiresAt: number } | { type: "ended"; reason: SessionEndedReason };

/** The part of the Web Locks API the client uses (`navigator.locks`). */
export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/** The part of BroadcastChannel the client uses. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  close(): void;
}

export type ChannelConstructor = new (name: string) => ChannelLike;

export interface TabCoordination {
  /** Run `task` while no other tab runs one under the same name. */
  exclusive<T>(task: () => Promise<T>): Promise<T>;
  /** Tell the other tabs (not this one). */
  announce(message: TabMessage): void;
  close(): void;
}

/** A tab on its own: the memory transport's sessions are per tab, so there is nothing to share. */
export const aloneInThisTab: TabCoordination = {
  exclusive: (task) => task(),
  announce: () => undefined,
  close: () => undefined,
};

export function coordinateTabs(
  name: string,
  locks: LockManagerLike | null,
  Channel: ChannelConstructor | null,
  receive: (message: TabMessage) => void,
): TabCoordination {
  const channel = Channel ? new Channel(name) : null;
  channel?.addEventListener("message", (event) => {
    if (isTabMessage(event.data)) receive(event.data);
  });
  return {
    exclusive: (task) => (locks ? locks.request(name, task) : task()),
    announce: (message) => channel?.postMessage(message),
    close: () => channel?.close(),
  };
}

function isTabMessage(value: unknown): value is TabMessage {
  if (typeof value !== "object" || value === null || !("type" in value)) return false;
  if (value.type === "token") {
    return (
      "accessToken" in value &&
      typeof value.accessToken === "string" &&
      "expiresAt" in value &&
      typeof value.expiresAt === "number"
    );
  }
  return value.type === "ended" && "reason" in value && typeof value.reason === "string";
}

/** `navigator.locks` when the browser has it. */
export function browserLocks(): LockManagerLike | null {
  const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
  if (!locks) return null;
  // The DOM typing reads the callback's promise as the lock's value; at run time it is awaited.
  return {
    request: <T>(name: string, callback: () => Promise<T>) => locks.request(name, callback) as unknown as Promise<T>,
  };
}

/** `BroadcastChannel` when the browser has it. */
export function browserChannel(): ChannelConstructor | null {
  return typeof BroadcastChannel === "undefined" ? null : BroadcastChannel;
}
