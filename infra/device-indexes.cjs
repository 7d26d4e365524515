// The devices table's attribute definitions and global secondary indexes: infra/tables.json's, plus, while a stage
// migrates from the version before (--param="keepStatusIndex=true"), that version's byStatus index beside the
// settled-status one. DynamoDB creates or deletes one index per table update: the first deploy creates
// bySettledStatus and keeps byStatus, `npm run backfill-settled-index` fills the new one, and the next deploy
// (without the parameter) drops byStatus. docs/cost.md tells the steps.
//
// CommonJS because osls loads variable files with require().
'use strict';

const tables = require('./tables.json');

/** The index the version before listed devices by (their live status), as it was deployed. */
const LEGACY_STATUS_INDEX = {
  IndexName: 'byStatus',
  KeySchema: [
    { AttributeName: 'statusShard', KeyType: 'HASH' },
    { AttributeName: 'deviceId', KeyType: 'RANGE' },
  ],
  Projection: {
    ProjectionType: 'INCLUDE',
    NonKeyAttributes: ['status', 'since', 'sessionIdentifier', 'versionNumber', 'disconnectReason', 'settled'],
  },
};

const keepStatusIndex = async (resolveVariable) =>
  String(await resolveVariable('param:keepStatusIndex')) === 'true';

module.exports = {
  LEGACY_STATUS_INDEX,
  attributeDefinitions: async ({ resolveVariable }) => [
    ...tables.devices.AttributeDefinitions,
    ...((await keepStatusIndex(resolveVariable)) ? [{ AttributeName: 'statusShard', AttributeType: 'S' }] : []),
  ],
  globalSecondaryIndexes: async ({ resolveVariable }) => [
    ...tables.devices.GlobalSecondaryIndexes,
    ...((await keepStatusIndex(resolveVariable)) ? [LEGACY_STATUS_INDEX] : []),
  ],
};
