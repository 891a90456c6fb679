declare module '@ffmpeg-installer/ffmpeg' {
  const installer: { path: string; version: string; url: string };
  export default installer;
}
