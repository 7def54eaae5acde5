/**
 * The languages whisper knows, by code (ISO-639-1, plus "haw" and "yue") and English name, in
 * whisper's own order: the transcription endpoints' `language` takes these, like OpenAI's. Anything
 * else would reach whisper-server as a language it cannot look up (it answers 500, or transcribes
 * with a wrong language token), so it is refused up front.
 */
const TABLE =
  "en:english,zh:chinese,de:german,es:spanish,ru:russian,ko:korean,fr:french,ja:japanese,pt:portuguese,tr:turkish," +
  "pl:polish,ca:catalan,nl:dutch,ar:arabic,sv:swedish,it:italian,id:indonesian,hi:hindi,fi:finnish,vi:vietnamese," +
  "he:hebrew,uk:ukrainian,el:greek,ms:malay,cs:czech,ro:romanian,da:danish,hu:hungarian,ta:tamil,no:norwegian," +
  "th:thai,ur:urdu,hr:croatian,bg:bulgarian,lt:lithuanian,la:latin,mi:maori,ml:malayalam,cy:welsh,sk:slovak," +
  "te:telugu,fa:persian,lv:latvian,bn:bengali,sr:serbian,az:azerbaijani,sl:slovenian,kn:kannada,et:estonian,mk:macedonian," +
  "br:breton,eu:basque,is:icelandic,hy:armenian,ne:nepali,mn:mongolian,bs:bosnian,kk:kazakh,sq:albanian,sw:swahili," +
  "gl:galician,mr:marathi,pa:punjabi,si:sinhala,km:khmer,sn:shona,yo:yoruba,so:somali,af:afrikaans,oc:occitan," +
  "ka:georgian,be:belarusian,tg:tajik,sd:sindhi,gu:gujarati,am:amharic,yi:yiddish,lo:lao,uz:uzbek,fo:faroese," +
  "ht:haitian creole,ps:pashto,tk:turkmen,nn:nynorsk,mt:maltese,sa:sanskrit,lb:luxembourgish,my:myanmar,bo:tibetan,tl:tagalog," +
  "mg:malagasy,as:assamese,tt:tatar,haw:hawaiian,ln:lingala,ha:hausa,ba:bashkir,jw:javanese,su:sundanese,yue:cantonese";

/** Code → English name. */
export const TRANSCRIPTION_LANGUAGES: ReadonlyMap<string, string> = new Map(
  TABLE.split(",").map((entry) => entry.split(":") as [string, string]),
);

const BY_NAME: ReadonlyMap<string, string> = new Map([...TRANSCRIPTION_LANGUAGES].map(([code, name]) => [name, code]));

/** The language code for a code or an English name, any case ("EN", "German" → "en", "de"); undefined when whisper does not know it. */
export function transcriptionLanguage(value: string): string | undefined {
  const key = value.trim().toLowerCase();
  return TRANSCRIPTION_LANGUAGES.has(key) ? key : BY_NAME.get(key);
}
