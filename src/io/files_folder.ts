// A model folder picked in a page with <input type="file" webkitdirectory>: the browser hands over
// File objects whose webkitRelativePath starts with the picked folder's own name, which is not
// part of the model's layout, so keys drop it ("clvp/config.json" -> "config.json").
import { BlobByteSource } from './blob_source';
import { ByteSource } from './bytes';
import { checkRelativeName, FolderLocation, ModelFolder, ModelFolderError, stripBom } from './folder';

export class FilesFolder implements ModelFolder {
  readonly location: FolderLocation;

  constructor(readonly label: string, private readonly files: Record<string, Blob>) {
    this.location = { kind: 'files', files };
  }

  /**
   * From what an input element picked. With webkitdirectory every file carries its path under the
   * picked folder; a plain `multiple` input gives bare names, which are used as they are.
   */
  static fromFileList(list: FileList | readonly File[], label?: string): FilesFolder {
    const files: Record<string, Blob> = {};
    let top: string | undefined;
    for (const file of Array.from(list)) {
      const rel = file.webkitRelativePath;
      let key = file.name;
      if (rel) {
        const cut = rel.indexOf('/');
        top ??= cut > 0 ? rel.slice(0, cut) : undefined;
        key = cut >= 0 ? rel.slice(cut + 1) : rel;
      }
      if (key in files) throw new ModelFolderError(`${label ?? top ?? 'picked files'}: two picked files are both called ${JSON.stringify(key)}`);
      files[key] = file;
    }
    return new FilesFolder(label ?? top ?? 'picked files', files);
  }

  /** The keys, sorted (for messages and pages that list what was picked). */
  names(): string[] {
    return Object.keys(this.files).sort();
  }

  async has(name: string): Promise<boolean> {
    checkRelativeName(name, this.label);
    return Object.prototype.hasOwnProperty.call(this.files, name);
  }

  private get(name: string): Blob {
    checkRelativeName(name, this.label);
    if (!Object.prototype.hasOwnProperty.call(this.files, name)) {
      const names = this.names();
      const shown = names.length > 8 ? `${names.slice(0, 8).join(', ')}, …` : names.join(', ');
      throw new ModelFolderError(`${this.label}/${name}: not among the picked files (${names.length ? `picked: ${shown}` : 'none were picked'})`);
    }
    return this.files[name];
  }

  async readText(name: string): Promise<string> {
    const blob = this.get(name);
    const bytes = await new BlobByteSource(`${this.label}/${name}`, blob).read(0, blob.size);
    return stripBom(new TextDecoder().decode(bytes));
  }

  async open(name: string): Promise<ByteSource> {
    return new BlobByteSource(`${this.label}/${name}`, this.get(name));
  }
}
