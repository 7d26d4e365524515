export const handler = async () => {
  throw new Error('not implemented');
};
