// An application-shaped story with the official Node SDK (@scalekit-sdk/node), unmodified, for
// tests/test_sdk_stories.py: create an organization, add a user to it, list its users, update the
// user, delete the user and the organization. One JSON line per step on stdout:
//   {"step": "...", "ok": true, ...what the step saw}   or   {"step": "...", "ok": false, "error": {...}}
//
//   node tests/node/sdk_story.mjs <dir of a node package with @scalekit-sdk/node installed>
//
// The SDK is installed for the shipped driver (contract_tests/drivers/node-sdk), not here: ES modules
// ignore NODE_PATH, so it is required from that package's directory. The environment is the one an
// application has: SCALEKIT_ENVIRONMENT_URL, SCALEKIT_CLIENT_ID, SCALEKIT_CLIENT_SECRET. Tests only:
// this file is not part of the wheel.

import { createRequire } from "node:module";
import path from "node:path";

const write = process.stdout.write.bind(process.stdout);
// stdout carries the step lines only: anything the SDK (or its dependencies) logs goes to stderr.
console.log = console.info = console.debug = console.warn = console.error;

const sdkDir = process.argv[2];
if (!sdkDir) {
  console.error("usage: node sdk_story.mjs <dir of a package with @scalekit-sdk/node installed>");
  process.exit(2);
}
const { ScalekitClient, ScalekitNotFoundException } =
  createRequire(path.join(path.resolve(sdkDir), "package.json"))("@scalekit-sdk/node");

function emit(line) {
  write(`${JSON.stringify(line)}\n`);
}

function described(error) {
  return { name: error?.constructor?.name ?? typeof error, grpcStatus: error?.grpcStatus ?? null,
           message: String(error?.message ?? error).slice(0, 500) };
}

/** Run one step; a step that throws ends the story (what follows depends on it). */
async function step(name, run) {
  try {
    const seen = await run();
    emit({ step: name, ok: true, ...seen });
    return seen;
  } catch (error) {
    emit({ step: name, ok: false, error: described(error) });
    process.exit(1);
  }
}

/** A step whose call must fail with the SDK's not-found error: which error it was. */
async function expectNotFound(name, run) {
  return step(name, async () => {
    try {
      await run();
    } catch (error) {
      return { notFound: error instanceof ScalekitNotFoundException, error: described(error) };
    }
    return { notFound: false, error: null };
  });
}

const { SCALEKIT_ENVIRONMENT_URL: envUrl, SCALEKIT_CLIENT_ID: clientId,
        SCALEKIT_CLIENT_SECRET: clientSecret } = process.env;
const client = new ScalekitClient(envUrl, clientId, clientSecret);
const userIds = (listed) => listed.users.map((u) => u.id);

const { id: orgId } = await step("create_organization", async () => {
  const { organization } = await client.organization.createOrganization("Node Story Corp",
                                                                        { externalId: "node-story-1" });
  return { id: organization.id, displayName: organization.displayName, externalId: organization.externalId };
});
await step("get_organization", async () => {
  const { organization } = await client.organization.getOrganization(orgId);
  return { id: organization.id, displayName: organization.displayName };
});
const { id: userId } = await step("create_user", async () => {
  const { user } = await client.user.createUserAndMembership(orgId, {
    email: "node.story@example.com", userProfile: { firstName: "Ada", lastName: "Lovelace" },
    metadata: { plan: "free" }, sendInvitationEmail: false,
  });
  return { id: user.id, email: user.email, memberships: user.memberships.map((m) => m.organizationId),
           firstName: user.userProfile?.firstName ?? null, metadata: user.metadata };
});
await step("list_users", async () => {
  const listed = await client.user.listOrganizationUsers(orgId, { pageSize: 10 });
  return { ids: userIds(listed), totalSize: listed.totalSize };
});
await step("update_user", async () => {
  const { user } = await client.user.updateUser(userId, { userProfile: { firstName: "Grace" },
                                                          metadata: { plan: "pro" } });
  return { id: user.id, firstName: user.userProfile?.firstName ?? null, metadata: user.metadata };
});
await step("get_user", async () => {
  const { user } = await client.user.getUser(userId);
  return { id: user.id, email: user.email, firstName: user.userProfile?.firstName ?? null, metadata: user.metadata };
});
await step("delete_user", async () => {
  await client.user.deleteUser(userId);
  return {};
});
await expectNotFound("get_deleted_user", () => client.user.getUser(userId));
await step("list_users_after_delete", async () => {
  const listed = await client.user.listOrganizationUsers(orgId, { pageSize: 10 });
  return { ids: userIds(listed), totalSize: listed.totalSize };
});
await step("delete_organization", async () => {
  await client.organization.deleteOrganization(orgId);
  return {};
});
await expectNotFound("get_deleted_organization", () => client.organization.getOrganization(orgId));
// connect-node keeps its HTTP/2 session open: end the process once the story is told.
process.exit(0);
