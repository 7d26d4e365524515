/** The MQTT topic filters of the will and birth rules (WILL_TOPIC_FILTER and BIRTH_TOPIC_FILTER). */
export interface DeviceMessageTopics {
  willTopicFilter: string;
  birthTopicFilter: string;
}

/** The levels of each filter matched: a process matches every message against the same few (its configuration). */
const filterLevelsCache = new Map<string, readonly string[]>();

function levelsOf(filter: string): readonly string[] {
  let levels = filterLevelsCache.get(filter);
  if (!levels) {
    levels = filter.split('/');
    filterLevelsCache.set(filter, levels);
  }
  return levels;
}

/** MQTT topic filter match; returns the values of the '+' levels, or undefined when it does not match. */
export function matchTopicFilter(filter: string, topic: string): string[] | undefined {
  return matchTopicLevels(filter, topic.split('/'));
}

/** matchTopicFilter of a topic split into its levels once (the rules match each message against three filters). */
export function matchTopicLevels(filter: string, topicLevels: readonly string[]): string[] | undefined {
  const filterLevels = levelsOf(filter);
  const captured: string[] = [];
  for (let i = 0; i < filterLevels.length; i += 1) {
    const level = filterLevels[i];
    if (level === '#') return captured;
    const actual = topicLevels[i];
    if (actual === undefined) return undefined;
    if (level === '+') captured.push(actual);
    else if (level !== actual) return undefined;
  }
  return filterLevels.length === topicLevels.length ? captured : undefined;
}
