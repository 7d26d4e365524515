import { describe, expect, it } from 'vitest';
import { matchTopicFilter } from '../../src/shared/topic-filter.js';

describe('matchTopicFilter', () => {
  it.each([
    ['devices/+/will', 'devices/thing-7/will', ['thing-7']],
    ['$aws/events/presence/+/+', '$aws/events/presence/connected/thing-7', ['connected', 'thing-7']],
    ['/last/will/topic', '/last/will/topic', []],
    ['devices/#', 'devices/a/b/c', []],
  ])('matches %s against %s and captures the + levels', (filter, topic, captured) => {
    expect(matchTopicFilter(filter, topic)).toEqual(captured);
  });

  it.each([
    ['devices/+/will', 'devices/thing-7/birth'],
    ['devices/+/will', 'devices/thing-7/will/extra'],
    ['devices/+/will', 'devices/will'],
    ['/last/will/topic', 'last/will/topic'],
  ])('does not match %s against %s', (filter, topic) => {
    expect(matchTopicFilter(filter, topic)).toBeUndefined();
  });
});
